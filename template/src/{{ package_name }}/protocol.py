"""uvicorn's HTTP/1.1 protocol, answering unparseable requests with a problem document.

uvicorn refuses bytes that are not valid HTTP/1.1 (a NUL in a header, a lying
``Content-Length``, a TLS hello on the plain port) itself, before the application sees the
request, with a plain-text 400. This subclass sends the same 400 as problem+json with a request
id and the security headers, so that every error a client can get has the one shape.
"""

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .middleware import new_request_id, security_headers
from .problems import PROBLEM_JSON, problem_body

__all__ = ["ProblemHttpToolsProtocol"]

_DETAIL = "The request is not valid HTTP/1.1."


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose parse-error 400 is a problem document."""

    hsts_max_age = 0  # set from settings before the server starts (see __main__.py)

    def send_400_response(self, msg: str) -> None:
        """Write the 400 and close the connection (the stream cannot be resynchronised)."""
        request_id = new_request_id()
        body = orjson.dumps(problem_body(400, _DETAIL, request_id=request_id))
        headers = [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-request-id", request_id.encode()),
            *security_headers(self.hsts_max_age),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\n" + head + b"\r\n" + body)
        self.transport.close()
