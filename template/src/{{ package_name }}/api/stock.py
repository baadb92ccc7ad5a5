"""Graceful degradation by example: an item's stock from an upstream, or a marked fallback."""

from typing import Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ValidationError

from ..deps import AUTH_ERRORS, READ_ITEMS, ItemsDep, UpstreamsDep
from ..problems import problem_responses
from ..resilience import BreakerOpenError, UpstreamError, UpstreamTimeoutError

router = APIRouter(
    prefix="/items",
    tags=["items"],
    responses=problem_responses({422: "Invalid path, query or body", **AUTH_ERRORS}),
)

logger = structlog.get_logger(__name__)


class Stock(BaseModel):
    """How many of an item are available, and where that figure came from."""

    item_id: UUID
    available: int
    source: Literal["upstream", "local", "fallback"]
    degraded: bool = False
    reason: str | None = None


class _UpstreamStock(BaseModel):
    available: int


@router.get(
    "/{item_id}/stock", responses=problem_responses({404: "No such item"}), dependencies=READ_ITEMS
)
async def get_stock(item_id: UUID, items: ItemsDep, upstreams: UpstreamsDep) -> Stock:
    """The item's available stock from the stock service, or a marked fallback when it is down."""
    item = await items.get(item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No item with id {item_id}.")
    upstream = upstreams.get("stock")
    if upstream is None:
        return Stock(item_id=item_id, available=item.quantity, source="local")

    try:
        response = await upstream.get(f"/stock/{item_id}")
        if response.status_code != status.HTTP_200_OK:
            reason = f"status_{response.status_code}"
        else:
            answer = _UpstreamStock.model_validate_json(response.content)
            return Stock(item_id=item_id, available=answer.available, source="upstream")
    except BreakerOpenError:
        reason = "circuit_open"
    except UpstreamTimeoutError:
        reason = "timeout"
    except UpstreamError:
        reason = "unavailable"
    except ValidationError:
        reason = "bad_response"
    logger.info("stock.fallback", item_id=str(item_id), reason=reason)
    return Stock(
        item_id=item_id, available=item.quantity, source="fallback", degraded=True, reason=reason
    )
