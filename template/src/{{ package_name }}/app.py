"""The application factory: ``create_app(settings)``; its lifespan owns every resource."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI

from . import __version__
from .api import health, items
from .health import HealthRegistry, Lifecycle
from .idempotency import IdempotencyMiddleware
from .middleware import RequestContextMiddleware
from .problems import install_problem_handlers
from .settings import Settings, get_settings
from .stores import check_stores, open_stores

__all__ = ["create_app"]

logger = structlog.get_logger()

# Probes hit these every few seconds: log them only when they fail.
QUIET_PATHS = frozenset({"/livez", "/readyz"})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI application for the given settings (read from the environment if None)."""
    settings = settings or get_settings()
    check_stores(settings)
    registry = HealthRegistry(default_timeout=settings.readiness_timeout)
    lifecycle = Lifecycle()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with open_stores(settings, registry) as stores:
            logger.info(
                "service.started",
                service=settings.service_name,
                version=__version__,
                environment=settings.app_env,
            )
            try:
                yield stores
            finally:
                lifecycle.begin_shutdown()
                logger.info("service.stopped", service=settings.service_name)

    app = FastAPI(
        title=settings.service_name,
        version=__version__,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.health = registry
    app.state.lifecycle = lifecycle
    app.dependency_overrides[get_settings] = lambda: settings

    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(items.router)
    app.add_middleware(
        IdempotencyMiddleware,
        openapi=app.openapi,
        default_policy=settings.idempotency_default_policy,
        client_header=settings.idempotency_client_header,
        ttl=settings.idempotency_ttl,
        lock_ttl=settings.idempotency_lock_ttl,
        max_body=settings.idempotency_max_body,
    )
    app.add_middleware(RequestContextMiddleware, quiet_paths=QUIET_PATHS)
    return app
