"""Pure-ASGI request context (cheap, never buffers a body): request id, access line, crashes."""

import contextvars
import re
import time
from collections.abc import Iterable
from contextvars import ContextVar
from random import getrandbits
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observability.edge_span import ServerSpans
from .observability.logging import log_request
from .observability.metrics import HttpMetrics
from .problems import problem_response
from .request_body import BodyRefusedError, guarded, too_large

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware", "new_request_id"]

REQUEST_ID_HEADER = "x-request-id"
# Accept a caller's id only if it is short and plain: it ends up in logs and headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

logger = structlog.get_logger(__name__)


def _bound_variable(key: str) -> ContextVar[Any]:
    """The variable ``bind_contextvars(key=...)`` sets (found by binding a marker): 1/6 the cost."""
    marker = object()

    def bind_and_find() -> ContextVar[Any] | None:
        structlog.contextvars.bind_contextvars(**{key: marker})
        items = contextvars.copy_context().items()
        return next((variable for variable, value in items if value is marker), None)

    variable = contextvars.Context().run(bind_and_find)
    if variable is None:
        raise RuntimeError(f"structlog.contextvars.bind_contextvars did not bind {key!r}")
    return variable


_REQUEST_ID = _bound_variable("request_id")

_CRASH_DETAIL = "The server could not complete the request; quote the request_id if you report it."


def new_request_id() -> str:
    """A fresh request id, 128 random bits; ``random``, not ``secrets``: it grants nothing."""
    return getrandbits(128).to_bytes(16, "big").hex()  # nosec B311


def _valid_request_id(value: bytes) -> str | None:
    """A caller's X-Request-ID as text, if it is one we accept."""
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if _VALID_REQUEST_ID.match(text) else None


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def security_headers(hsts_max_age: int) -> list[tuple[bytes, bytes]]:
    """Headers every response carries unless the handler set them itself (raw ASGI form)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-resource-policy", b"same-origin"),
    ]
    if hsts_max_age > 0:
        hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()
        headers.append((b"strict-transport-security", hsts))
    return headers


class RequestContextMiddleware:
    """The one edge layer: request id, span, metrics, access line, security headers, limits."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        probe_paths: frozenset[str] = frozenset(),
        spans: ServerSpans | None = None,
        metrics: HttpMetrics | None = None,
        max_header_bytes: int = 16_384,
        max_body_bytes: int = 1_048_576,
        hsts_max_age: int = 0,
        body_timeouts: tuple[float, float] = (10.0, 5.0),
    ) -> None:
        self.app = app
        self.probe_paths = probe_paths
        self.spans = spans
        self.stats = metrics.http if metrics is not None else None
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.body_timeouts = body_timeouts
        self.response_headers = security_headers(hsts_max_age)
        self._security_names = frozenset(name for name, _ in self.response_headers)

    def _with_headers(
        self, headers: Iterable[tuple[bytes, bytes]], request_id: str
    ) -> list[tuple[bytes, bytes]]:
        """A response's headers plus the request id and the security headers it lacks."""
        listed = [*headers, (b"x-request-id", request_id.encode())]
        if any(name.lower() in self._security_names for name, _ in listed):  # a handler's own
            present = {name.lower() for name, _ in listed}
            return [*listed, *(h for h in self.response_headers if h[0] not in present)]
        listed.extend(self.response_headers)
        return listed

    def _read_headers(self, scope: Scope) -> tuple[str | None, tuple[int, str] | None, bool]:
        """The caller's request id if valid, a (status, detail) refusal, and if the body is JSON."""
        size = declared = 0
        incoming: bytes | None = None
        host = json_body = False
        for name, value in scope["headers"]:
            size += len(name) + len(value)
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"x-request-id" and incoming is None:
                incoming = value
            elif name == b"host":
                host = True
            elif name == b"content-type":
                media = value.partition(b";")[0].strip().lower()
                json_body = media == b"application/json" or media.endswith(b"+json")
        request_id = _valid_request_id(incoming) if incoming is not None else None
        refusal: tuple[int, str] | None = None
        if size > self.max_header_bytes:
            refusal = (431, "The request headers are too large.")
        elif declared > self.max_body_bytes:
            refusal = (413, too_large(self.max_body_bytes))
        elif not host and scope["http_version"] == "1.1":  # RFC 9112 3.2; HTTP/1.0 may omit it
            refusal = (400, "An HTTP/1.1 request needs a Host header.")
        return request_id, refusal, json_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming, refusal, json_body = self._read_headers(scope)
        request_id = incoming or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        bound = _REQUEST_ID.set(request_id)  # structlog.contextvars.bind_contextvars's variable
        probe = scope["path"] in self.probe_paths
        span = self.spans.start(scope) if self.spans is not None and not probe else None
        stats = None if probe else self.stats
        if stats is not None:
            stats.in_flight += 1
        started = time.perf_counter()
        status = 500
        response_started = False
        crashed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = self._with_headers(message.get("headers", ()), request_id)
            await send(message)

        if refusal is None and scope["method"] not in _BODYLESS_METHODS:
            receive = guarded(receive, self.max_body_bytes, json_body, self.body_timeouts)
        try:
            if refusal is not None:
                status = refusal[0]
                refused = problem_response(*refusal, request_id=request_id)
                await refused(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except BodyRefusedError as exc:
            if response_started:
                raise
            status = exc.status_code
            reply = problem_response(status, exc.detail, request_id=request_id, headers=exc.headers)
            await reply(scope, receive, send_with_id)
        except Exception:
            crashed = True
            logger.exception(
                "http.unhandled_error", method=scope["method"], route=_route_template(scope)
            )
            if response_started:
                raise  # headers are gone; let the server abort the connection
            status = 500
            response = problem_response(500, _CRASH_DETAIL, request_id=request_id)
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            if stats is not None:
                stats.in_flight -= 1
                stats.observe(scope["method"], route, status, elapsed)
            if not probe or status >= 500:
                log_request(__name__, scope["method"], route, status, round(elapsed * 1000, 3))
            if span is not None:
                ServerSpans.finish(span, route if "route" in scope else None, status, crashed)
            _REQUEST_ID.reset(bound)
