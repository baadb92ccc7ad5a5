"""Hostile input: every malformed request is refused with a 4xx, never a 500 or a traceback.

The same battery runs in-process (TestClient) and against the service as a real process over
real sockets; requests no HTTP client library will send (a NUL in a header, raw 8-bit bytes in
the request line, lying lengths) go through a raw socket to the server's own parser.
"""

import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from .service_process import Service, running_service

JSON = {"content-type": "application/json"}
PROBLEM_JSON = "application/problem+json"

# name: (method, path, headers, body, the statuses that are right for it)
BATTERY: dict[str, tuple[str, str, dict[str, str], bytes | None, set[int]]] = {
    "bad JSON": ("POST", "/items", JSON, b"{not json", {422}),
    "empty body": ("POST", "/items", JSON, b"", {422}),
    "JSON array": ("POST", "/items", JSON, b"[]", {422}),
    "JSON null": ("POST", "/items", JSON, b"null", {422}),
    "number for a string": ("POST", "/items", JSON, b'{"name": 5}', {422}),
    "string for an integer": ("POST", "/items", JSON, b'{"name": "x", "quantity": "3"}', {422}),
    "boolean for an integer": ("POST", "/items", JSON, b'{"name": "x", "quantity": true}', {422}),
    "unknown field": ("POST", "/items", JSON, b'{"name": "x", "admin": true}', {422}),
    "integer out of range": ("POST", "/items", JSON, b'{"name": "x", "quantity": -1}', {422}),
    "1e400": ("POST", "/items", JSON, b'{"name": "x", "quantity": 1e400}', {422}),
    "NaN": ("POST", "/items", JSON, b'{"name": "x", "quantity": NaN}', {422}),
    "5000-digit integer": (
        "POST",
        "/items",
        JSON,
        b'{"name": "x", "quantity": ' + b"9" * 5000 + b"}",
        {400, 422},
    ),
    "nesting 100k deep": ("POST", "/items", JSON, b"[" * 100_000 + b"]" * 100_000, {400, 422}),
    "non-UTF-8 bytes in JSON": ("POST", "/items", JSON, b'{"name": "\xff\xfe"}', {400}),
    "latin-1 charset declared": (
        "POST",
        "/items",
        {"content-type": "application/json; charset=latin-1"},
        b'{"name": "caf\xe9"}',
        {400, 415, 422},
    ),
    "lone surrogate escape": ("POST", "/items", JSON, b'{"name": "\\ud800"}', {422}),
    "raw NUL in JSON": ("POST", "/items", JSON, b'{"name": "a\x00b"}', {422}),
    "text/plain body": (
        "POST",
        "/items",
        {"content-type": "text/plain"},
        b'{"name": "x"}',
        {415, 422},
    ),
    "no content-type": ("POST", "/items", {}, b'{"name": "x"}', {415, 422}),
    "form body": (
        "POST",
        "/items",
        {"content-type": "application/x-www-form-urlencoded"},
        b"name=x",
        {415, 422},
    ),
    "gzip-declared garbage": (
        "POST",
        "/items",
        {**JSON, "content-encoding": "gzip"},
        b"\x1f\x8b\x08garbage",
        {400, 415},
    ),
    "gzip-encoded JSON": (
        "POST",
        "/items",
        {**JSON, "content-encoding": "gzip"},
        gzip.compress(b'{"name": "x"}'),
        {400, 415},
    ),
    "2 MB body": ("POST", "/items", JSON, b'{"name": "' + b"x" * 2_000_000 + b'"}', {413}),
    "10 kB path": ("GET", "/items/" + "a" * 10_000, {}, None, {404, 414, 422}),
    "10 kB query": ("GET", "/items?limit=" + "1" * 10_000, {}, None, {414, 422}),
    "NUL in path": ("GET", "/items/%00", {}, None, {404, 422}),
    "NUL in query": ("GET", "/items?offset=%00", {}, None, {422}),
    "repeated scalar query parameter": ("GET", "/items?offset=1&offset=7%0A", {}, None, {422}),
    "8-bit escapes in path": ("GET", "/items/%FF%FE/stock", {}, None, {404, 422}),
    "20 kB header": ("GET", "/items", {"x-padding": "x" * 20_000}, None, {431}),
    "unknown method": ("PURGE", "/items", {}, None, {405}),
}
IDS = list(BATTERY)


def _assert_refused(name: str, status: int, content_type: str | None, text: str) -> None:
    assert status in BATTERY[name][4], f"{name}: {status} {text[:300]}"
    assert content_type == PROBLEM_JSON, f"{name}: {content_type}"
    body = json.loads(text)
    assert body["status"] == status
    assert body["request_id"]
    assert "Traceback" not in text


@pytest.fixture(scope="module", name="service")
def _service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    log = tmp_path_factory.mktemp("hostile") / "service.log"
    with running_service(log_path=log) as service:
        yield service, log


@pytest.mark.parametrize("name", IDS)
def test_in_process_hostile_request_is_a_4xx_problem(client: TestClient, name: str) -> None:
    """Through the ASGI app, each hostile request gets the right 4xx as problem+json."""
    method, path, headers, body, _ = BATTERY[name]
    response = client.request(method, path, headers=headers, content=body)
    _assert_refused(name, response.status_code, response.headers.get("content-type"), response.text)


@pytest.mark.parametrize("name", IDS)
def test_real_process_hostile_request_is_a_4xx_problem(
    service: tuple[Service, Path], name: str
) -> None:
    """Over a real socket, each hostile request gets the right 4xx as problem+json."""
    method, path, headers, body, _ = BATTERY[name]
    response = httpx.request(method, service[0].base + path, headers=headers, content=body)
    _assert_refused(name, response.status_code, response.headers.get("content-type"), response.text)


def _raw(base: str, request: bytes, *, half_close: bool = True) -> bytes:
    """Send bytes as they are and read until the server closes the connection.

    ``half_close`` ends the sending side at once (for requests the server cannot parse);
    leave it off for a request the application must answer, or the server may drop the
    connection on the early EOF before the answer is ready.
    """
    url = urlsplit(base)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=5) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


_POST = b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
# Not valid HTTP/1.1: the server's parser refuses these before the application sees them.
RAW: dict[str, bytes] = {
    "NUL in a header value": b"GET /items HTTP/1.1\r\nHost: x\r\nX-User-ID: a\x00b\r\n\r\n",
    "raw 8-bit bytes in the path": b"GET /items/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-numeric Content-Length": _POST + b"Content-Length: abc\r\n\r\n{}",
    "two Content-Lengths": _POST + b"Content-Length: 2\r\nContent-Length: 14\r\n\r\n{}",
    "bad chunk size": _POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "TLS hello on the plain port": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03junk\r\n\r\n",
    "100 kB request line": b"GET /items/" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "1 MB header": b"GET /items HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"x" * 1_000_000 + b"\r\n\r\n",
    "declared 100 GB body": _POST + b"Content-Length: 100000000000\r\n\r\n{}",
}


@pytest.mark.parametrize("name", list(RAW))
def test_malformed_http_is_a_4xx_problem(service: tuple[Service, Path], name: str) -> None:
    """Bytes that are not valid HTTP/1.1 get a 4xx problem too, with the security headers."""
    received = _raw(service[0].base, RAW[name])
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    status = int(status_line.split()[1])
    assert 400 <= status < 500, f"{name}: {received[:300]!r}"
    assert headers["content-type"] == PROBLEM_JSON
    assert headers["x-content-type-options"] == "nosniff"
    assert json.loads(body)["status"] == status


def test_latin1_headers_are_served(service: tuple[Service, Path]) -> None:
    """8-bit header values (targeting key, tenant, request id) do not break a request."""
    received = _raw(
        service[0].base,
        b"GET /items HTTP/1.1\r\nHost: x\r\nX-User-ID: caf\xe9\r\nX-Tenant-ID: \xff\r\n"
        b"X-Request-ID: \xff\xfe\r\nConnection: close\r\n\r\n",
        half_close=False,
    )
    assert received.startswith(b"HTTP/1.1 200 ")


def test_the_battery_left_no_error_in_the_log(service: tuple[Service, Path]) -> None:
    """After the hostile requests above the log holds no unhandled error; the service is ready."""
    process_service, log = service
    assert httpx.get(f"{process_service.base}/readyz").status_code == 200
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events, "the service logged nothing"
    assert not [e for e in events if e["level"] in {"error", "critical"} or "exception" in e]
    assert not [e for e in events if e["event"] == "http.request" and e["status"] >= 500]
