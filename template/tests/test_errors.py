from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    """Routes that do not exist answer problem+json, not FastAPI's default body."""
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not Found"


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    """A method a route does not accept is a 405 problem that keeps the Allow header."""
    response = client.delete("/items")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, POST"  # every method of the path, not one route's


def test_unhandled_error_is_a_500_problem_without_internals(app: FastAPI) -> None:
    """A crash in a handler becomes a 500 problem with the request id and no traceback."""

    @app.get("/boom")
    async def boom() -> None:
        password = "s3cr3t-value"  # noqa: S105 - must never reach the client
        raise RuntimeError(f"exploded with {password}")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"
    body = response.json()
    assert body["request_id"] == "crash-1"
    assert body["status"] == 500
    assert "s3cr3t" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text


def test_request_ids_are_echoed_when_valid_else_fresh(client: TestClient) -> None:
    """A valid X-Request-ID comes back unchanged; a bad or missing one gets a fresh id each time."""
    valid = client.get("/livez", headers={"X-Request-ID": "abc-123.def"})
    assert valid.headers["x-request-id"] == "abc-123.def"
    fresh: list[str] = []
    for bad in ["x" * 200, "has space", "semi;colon", "<script>", None]:
        echoed = client.get("/livez", headers={"X-Request-ID": bad} if bad else {})
        fresh.append(echoed.headers["x-request-id"])
        assert fresh[-1] != bad
        assert len(fresh[-1]) == 32
        int(fresh[-1], 16)
    assert len(set(fresh)) == len(fresh)


def test_the_first_request_id_header_counts(client: TestClient) -> None:
    """With two X-Request-ID headers the first is used; an invalid first one is replaced."""
    both = [("X-Request-ID", "first-1"), ("X-Request-ID", "second-2")]
    assert client.get("/livez", headers=both).headers["x-request-id"] == "first-1"
    bad_first = [("X-Request-ID", "bad id"), ("X-Request-ID", "second-2")]
    echoed = client.get("/livez", headers=bad_first).headers["x-request-id"]
    assert echoed not in ("bad id", "second-2")
    assert len(echoed) == 32
