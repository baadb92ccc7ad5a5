"""uvicorn's HTTP/1.1 protocol: problem+json 400s, header and idle timeouts, a gentle drain."""

from asyncio import TimerHandle, Transport

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .middleware import new_request_id, security_headers
from .problems import PROBLEM_JSON, problem_body

__all__ = ["ProblemHttpToolsProtocol"]

DRAIN_GRACE = 0.5
_REFUSALS = {
    400: (b"400 Bad Request", "The request is not valid HTTP/1.1."),
    408: (b"408 Request Timeout", "The request headers did not arrive in time."),
}


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with problem+json refusals, a header timeout and a gentle drain."""

    hsts_max_age = 0  # these two are set from settings before the server starts (__main__.py)
    header_timeout = 5.0

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        """Start the connection with the keep-alive timer running: it must send a request."""
        super().connection_made(transport)
        self.head_timer: TimerHandle | None = None
        self.in_head = self.draining = False
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        """Parse ``data``; arm the header timer if it ended inside a request's headers."""
        super().data_received(data)
        if self.in_head and self.head_timer is None and not self.transport.is_closing():
            self.head_timer = self.loop.call_later(self.header_timeout, self.refuse, 408)

    def on_message_begin(self) -> None:
        """A request starts: its headers are being read."""
        super().on_message_begin()
        self.in_head = True

    def on_headers_complete(self) -> None:
        """The headers are in: stop their timer; while draining, close after the response."""
        self.in_head = False
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False

    def shutdown(self) -> None:
        """Drain: finish the request in progress, or read an idle connection a little longer."""
        self.draining = True
        if self.cycle is None or self.cycle.response_complete:
            self.loop.call_later(DRAIN_GRACE, self.close_if_idle)
        else:
            super().shutdown()

    def close_if_idle(self) -> None:
        """Close the connection unless a request arrived on it during the grace."""
        if (self.cycle is None or self.cycle.response_complete) and not self.in_head:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """Write the 400 and close the connection (the stream cannot be resynchronised)."""
        self.refuse(400)

    def refuse(self, status: int) -> None:
        """Answer ``status`` as a problem document and close the connection."""
        if self.transport.is_closing():
            return
        reason, detail = _REFUSALS[status]
        request_id = new_request_id()
        body = orjson.dumps(problem_body(status, detail, request_id=request_id))
        headers = [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-request-id", request_id.encode()),
            *security_headers(self.hsts_max_age),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(b"HTTP/1.1 " + reason + b"\r\n" + head + b"\r\n" + body)
        self.transport.close()
