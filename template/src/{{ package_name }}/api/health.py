"""Liveness, readiness and build information."""

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from .. import __version__
from ..deps import LifecycleDep, RegistryDep, SettingsDep
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
async def readyz(registry: RegistryDep, lifecycle: LifecycleDep) -> Response:
    """Run every registered check; 503 when one fails or while the service shuts down."""
    if lifecycle.shutting_down:
        return problem_response(503, "The service is shutting down.", readiness="shutting_down")
    report = await registry.run()
    checks: dict[str, Any] = {name: result.to_dict() for name, result in report.checks.items()}
    if not report.ready:
        failed = sorted(name for name, r in report.checks.items() if r.status == "fail")
        return problem_response(
            503,
            f"Readiness checks failed: {', '.join(failed)}",
            readiness="fail",
            checks=checks,
        )
    return Response(
        orjson.dumps({"status": report.status, "checks": checks}), media_type="application/json"
    )


@router.get("/info", summary="Build information")
async def info(settings: SettingsDep) -> dict[str, str]:
    """Name, version, git commit and build time of the running build."""
    return {
        "name": settings.service_name,
        "version": __version__,
        "git_commit": settings.git_commit,
        "build_time": settings.build_time,
        "environment": settings.app_env,
    }
