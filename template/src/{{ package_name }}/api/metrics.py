"""Prometheus scrape endpoint."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..deps import OPERATIONS
from ..observability.metrics import CONTENT_TYPE_LATEST, render

router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False, dependencies=OPERATIONS)
async def metrics(request: Request) -> Response:
    """Every metric of this process in Prometheus text format."""
    return Response(render(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
