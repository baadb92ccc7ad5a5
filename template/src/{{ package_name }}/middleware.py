"""Pure-ASGI request context: request id, access log line, last-resort error handling.

Kept as raw ASGI (not ``BaseHTTPMiddleware``) because it wraps every request and must stay
cheap; it never buffers bodies.
"""

import re
import secrets
import time
from typing import Any

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observability.metrics import HttpMetrics
from .observability.tracing import ServerSpans
from .problems import problem_response

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware"]

REQUEST_ID_HEADER = "x-request-id"
# Accept a caller's id only if it is short and plain: it ends up in logs and headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

logger = structlog.get_logger(__name__)

_CRASH_DETAIL = "The server could not complete the request; quote the request_id if you report it."


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _VALID_REQUEST_ID.match(text) else None
    return None


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class RequestContextMiddleware:
    """The service's one edge middleware: request id, server span, metrics, access line.

    Doing all four in a single pure-ASGI layer keeps the per-request cost low (each extra
    middleware layer adds a coroutine and a ``send`` wrapper to every message). It also turns
    a crash into a problem+json 500. Requests to ``probe_paths`` (health, metrics) are not
    traced or counted, and are logged only when they fail.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        probe_paths: frozenset[str] = frozenset(),
        spans: ServerSpans | None = None,
        metrics: HttpMetrics | None = None,
    ) -> None:
        self.app = app
        self.probe_paths = probe_paths
        self.spans = spans
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        probe = scope["path"] in self.probe_paths
        span = self.spans.start(scope) if self.spans is not None and not probe else None
        metrics = None if probe else self.metrics
        if metrics is not None:
            metrics.in_flight.inc()
        started = time.perf_counter()
        status = 500
        response_started = False
        crashed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            crashed = True
            logger.exception(
                "http.unhandled_error", method=scope["method"], route=_route_template(scope)
            )
            if response_started:
                raise  # headers are gone; let the server abort the connection
            status = 500
            response = problem_response(
                500,
                _CRASH_DETAIL,
                request_id=request_id,
                headers={REQUEST_ID_HEADER: request_id},
            )
            await response(scope, receive, send)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            if metrics is not None:
                metrics.in_flight.dec()
                metrics.observe(scope["method"], route, status, elapsed)
            if not probe or status >= 500:
                logger.info(
                    "http.request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                )
            if span is not None:
                ServerSpans.finish(span, route if "route" in scope else None, status, crashed)
            structlog.contextvars.reset_contextvars(**tokens)
