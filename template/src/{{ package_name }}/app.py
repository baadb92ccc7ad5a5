"""The application factory: ``create_app(settings)``; its lifespan owns every resource."""

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry import trace

from . import __version__
from .api import health, items, metrics, stock
from .flags import Flags
from .health import HealthRegistry, Lifecycle
from .idempotency import IdempotencyMiddleware
from .middleware import RequestContextMiddleware
from .observability.edge_span import ServerSpans
from .observability.metrics import HttpMetrics
from .observability.tracing import tracing_enabled
from .problems import install_problem_handlers
from .query_params import refuse_repeated_query_parameters
from .resilience import Upstreams
from .resilience.events import EVENTS
from .settings import Settings, get_settings
from .stores import check_stores, open_stores

__all__ = ["add_routes", "create_app"]

logger = structlog.get_logger(__name__)

# Probes and scrapes hit these every few seconds: not traced, not counted, logged on failure.
PROBE_PATHS = frozenset({"/livez", "/readyz", "/metrics"})


def create_app(settings: Settings | None = None, *, tracer: trace.Tracer | None = None) -> FastAPI:
    """Build the app for ``settings`` (from the environment if None); spans go to ``tracer``."""
    settings = settings or get_settings()
    check_stores(settings)
    registry = HealthRegistry(default_timeout=settings.readiness_check_timeout)
    upstreams = Upstreams.from_settings(settings)
    http_metrics = HttpMetrics(settings.service_name, __version__, settings.git_commit)
    registry.add_listener(
        lambda name, result: http_metrics.record_check(
            name, result.status == "pass", result.latency_ms
        )
    )
    if tracer is None and tracing_enabled():
        tracer = trace.get_tracer(__package__ or "service", __version__)
    flags = Flags(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_stores(settings, registry, app.state):
            # The broker's metrics (if any) join /metrics.
            bus = getattr(getattr(app.state, "messaging", None), "bus", None)
            if bus is not None:
                http_metrics.extra_registries.append(bus.registry)
            upstreams.open()
            for upstream in upstreams:
                http_metrics.track_breaker(upstream.breaker.name)
                registry.register(f"upstream:{upstream.name}", upstream.readiness)
            registry.register("flags", flags.check)
            unsubscribe = EVENTS.subscribe(http_metrics.record_resilience_event)
            await flags.start()
            logger.info(
                "service.started",
                service=settings.service_name,
                version=__version__,
                environment=settings.app_env,
            )
            try:
                yield
            finally:
                app.state.lifecycle.begin_shutdown()
                await upstreams.aclose()
                unsubscribe()
                await flags.stop()
                logger.info("service.stopped", service=settings.service_name)

    app = FastAPI(
        title=settings.service_name,
        version=__version__,
        lifespan=lifespan,
        # Every route, however registered, refuses a repeated scalar query parameter.
        dependencies=[Depends(refuse_repeated_query_parameters)],
        # Off: the edge middleware makes the one server span per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # The app's state: built here, plus what the lifespan opens (stores.py).
    app.state.settings = settings
    app.state.health = registry
    app.state.lifecycle = Lifecycle()
    app.state.upstreams = upstreams
    app.state.metrics = http_metrics
    app.state.flags = flags

    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(items.router)
    app.include_router(stock.router)
    app.include_router(metrics.router)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "Idempotency-Key", "X-Request-ID", "traceparent"],
            expose_headers=["X-Request-ID", "Location"],
        )
    app.add_middleware(
        IdempotencyMiddleware,
        router=app.router,
        default_policy=settings.idempotency_default_policy,
        client_header=settings.idempotency_client_header,
        ttl=settings.idempotency_ttl,
        lock_ttl=settings.idempotency_lock_ttl,
        max_body=settings.idempotency_max_body,
    )
    app.add_middleware(  # last added: outermost, so it sees every request and response
        RequestContextMiddleware,
        probe_paths=PROBE_PATHS,
        spans=ServerSpans(tracer) if tracer is not None else None,
        metrics=http_metrics,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
        hsts_max_age=settings.hsts_max_age,
        body_timeouts=(settings.body_read_timeout, settings.body_idle_timeout),
    )
    return app


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Deprecated (removed in the next release): call ``app.include_router(router)``."""
    warnings.warn("add_routes is deprecated: use app.include_router(router)", DeprecationWarning, 2)
    app.include_router(router)
