"""The application factory: ``create_app(settings)``; its lifespan owns every resource."""

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from opentelemetry import trace

from . import __version__
from .api import health, items, metrics, stock
from .flags import Flags
from .health import HealthRegistry, Lifecycle
from .idempotency import IdempotencyMiddleware
from .middleware import RequestContextMiddleware
from .observability.metrics import HttpMetrics
from .observability.tracing import ServerSpans, tracing_enabled
from .problems import install_problem_handlers
from .query_params import single_value_check
from .resilience import Upstreams
from .resilience.events import EVENTS
from .settings import Settings, get_settings
from .stores import check_stores, open_stores

__all__ = ["add_routes", "create_app"]

logger = structlog.get_logger(__name__)

# Probes and scrapes hit these every few seconds: not traced, not counted, logged on failure.
PROBE_PATHS = frozenset({"/livez", "/readyz", "/metrics"})


def create_app(settings: Settings | None = None, *, tracer: trace.Tracer | None = None) -> FastAPI:
    """Build the FastAPI application for the given settings (read from the environment if None).

    Spans go to ``tracer``, by default the global provider's (set up by ``configure_tracing``
    at process start); with ``OTEL_SDK_DISABLED=true`` no spans are made.
    """
    settings = settings or get_settings()
    check_stores(settings)
    registry = HealthRegistry(default_timeout=settings.readiness_check_timeout)
    lifecycle = Lifecycle()
    upstreams = Upstreams.from_settings(settings)
    upstreams.register_readiness(registry)
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
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with open_stores(settings, registry) as stores:
            # The message broker's metrics (when a broker is configured) join /metrics.
            bus = getattr(stores.get("messaging"), "bus", None)
            if bus is not None:
                http_metrics.extra_registries.append(bus.registry)
            upstreams.open()
            for upstream in upstreams:
                http_metrics.track_breaker(upstream.breaker.name)
            unsubscribe = EVENTS.subscribe(http_metrics.record_resilience_event)
            if "flags" not in registry.names():
                registry.register("flags", flags.check)
            await flags.start()
            logger.info(
                "service.started",
                service=settings.service_name,
                version=__version__,
                environment=settings.app_env,
            )
            try:
                yield {**stores, "upstreams": upstreams}
            finally:
                lifecycle.begin_shutdown()
                await upstreams.aclose()
                unsubscribe()
                await flags.stop()
                logger.info("service.stopped", service=settings.service_name)

    app = FastAPI(
        title=settings.service_name,
        version=__version__,
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry layer is off: our edge middleware makes the one
        # server span per request at about half its cost (bench/http_overhead.py), and with
        # both on every request would be traced twice once a tracer provider is installed.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.health = registry
    app.state.lifecycle = lifecycle
    app.state.upstreams = upstreams
    app.state.metrics = http_metrics
    app.state.flags = flags

    install_problem_handlers(app)
    # The API's routers first, probes and the scrape endpoint last: routes are tried in order,
    # and each one passed costs a path match on every request (about 8,000 instructions under
    # callgrind; three of them were 3% of the example GET). Paths do not overlap, so the order
    # changes nothing else. Add your routers before health's too.
    for router in (items.router, stock.router, health.router, metrics.router):
        add_routes(app, router)
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
        openapi=app.openapi,
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
    """Register ``router``'s routes on the app's own router, one by one.

    The same routes, OpenAPI and dependency overrides as ``app.include_router(router)`` (the
    tests compare the two), without its cost: FastAPI now keeps an included router as a nested
    layer that every request walks, matching the path twice on the way in (the routers and
    their routes are set once, so the layer buys this service nothing). Measured here as a
    quarter of the edge overhead on the example GET (bench/http_overhead.py). Use it for the
    routers you add; ``include_router`` still works, only slower.

    Each route with scalar query parameters also gets a dependency that refuses a repeated one
    (``?limit=1&limit=100``) with a 422 rather than FastAPI's silent last-value-wins
    (``query_params.py``); ``include_router`` does not add it.
    """
    options = [
        name
        for name in inspect.signature(app.router.add_api_route).parameters
        if name not in ("path", "endpoint", "route_class_override")
    ]
    for route in router.routes:
        if isinstance(route, APIRoute):
            keywords = {name: getattr(route, name) for name in options if hasattr(route, name)}
            check = single_value_check(route)
            if check is not None:
                keywords["dependencies"] = [*route.dependencies, check]
            app.router.add_api_route(
                route.path, route.endpoint, route_class_override=type(route), **keywords
            )
        else:
            app.router.routes.append(route)
