"""Liveness, readiness and build information."""

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import __version__
from ..deps import OPERATIONS, SettingsDep
from ..health import HealthRegistry, Lifecycle
from ..problems import problem_response, problem_responses

router = APIRouter(tags=["health"])


@router.get("/livez", summary="Liveness: the process is serving")
async def livez() -> dict[str, str]:
    """Answer 200 while the event loop serves requests; calls no dependency."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: every dependency check passes",
    responses=problem_responses({503: "Not ready; the body gives each check's result"}),
)
async def readyz(request: Request) -> Response:
    """Run every registered check; 503 when one fails or while the service shuts down."""
    lifecycle: Lifecycle = request.app.state.lifecycle
    if lifecycle.shutting_down:
        return problem_response(503, "The service is shutting down.", readiness="shutting_down")
    registry: HealthRegistry = request.app.state.health
    results = await registry.run()
    checks = {name: result.to_dict() for name, result in results.items()}
    if failed := sorted(name for name, r in results.items() if r.status == "fail"):
        detail = f"Readiness checks failed: {', '.join(failed)}"
        return problem_response(503, detail, readiness="fail", checks=checks)
    status = "warn" if any(r.status == "warn" for r in results.values()) else "pass"
    body = orjson.dumps({"status": status, "checks": checks})
    return Response(body, media_type="application/json")


@router.get("/info", summary="Build information", dependencies=OPERATIONS)
async def info(settings: SettingsDep) -> dict[str, str]:
    """Name, version, git commit and build time of the running build."""
    return {
        "name": settings.service_name,
        "version": __version__,
        "git_commit": settings.git_commit,
        "build_time": settings.build_time,
        "environment": settings.app_env,
    }
