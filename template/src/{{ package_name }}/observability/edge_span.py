"""The one server span of each request (HTTP semantic conventions), for the edge middleware.

One span, not the ASGI instrumentation's three (server, receive, send); a 5xx or a crash marks
it errored.
"""

from contextvars import Token
from dataclasses import dataclass
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import Scope

__all__ = ["KNOWN_METHODS", "ServerSpans", "StartedSpan"]

KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"}
)
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


@dataclass(slots=True)
class StartedSpan:
    """A request's open server span and the context token to restore."""

    span: trace.Span
    token: Token[context.Context]
    method: str


@dataclass
class ServerSpans:
    """Starts and finishes the one server span of each request on ``tracer``."""

    tracer: trace.Tracer

    def start(self, scope: Scope) -> StartedSpan:
        """Open the request's span (parent from ``traceparent``) and make it current."""
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "_OTHER"
        name = "HTTP" if method == "_OTHER" else method
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in _PROPAGATION_HEADERS
        }
        parent = propagate.extract(carrier) if carrier else None
        span = self.tracer.start_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=_request_attributes(scope, method),
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        return StartedSpan(span, token, name)

    @staticmethod
    def finish(started: StartedSpan, route: str | None, status: int, crashed: bool) -> None:
        """Name the span by route, record the status, end it and restore the context."""
        span = started.span
        if span.is_recording():
            attributes: dict[str, Any] = {"http.response.status_code": status}
            if route:
                attributes["http.route"] = route
                span.update_name(f"{started.method} {route}")
            if crashed or status >= 500:
                attributes["error.type"] = "exception" if crashed else str(status)
                span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(attributes)
        span.end()
        context.detach(started.token)


def _request_attributes(scope: Scope, method: str) -> dict[str, Any]:
    """The server span's attributes known when the request arrives (HTTP semantic conventions)."""
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    if server := scope.get("server"):
        attributes["server.address"], attributes["server.port"] = server[0], server[1]
    return attributes
