import asyncio

from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_readyz_passes_with_every_check_reported(client: TestClient) -> None:
    """/readyz is 200 and lists each registered check with its latency."""
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pass"
    assert body["checks"]
    for result in body["checks"].values():
        assert result["status"] == "pass"
        assert result["latency_ms"] >= 0


def test_readyz_fails_with_the_failing_check_named(app: FastAPI, client: TestClient) -> None:
    """A failing check makes /readyz 503, a problem naming it and its error; /livez stays 200."""

    async def broken() -> None:
        raise ConnectionError("upstream refused")

    app.state.health.register("upstream", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"]["upstream"] == {
        "status": "fail",
        "latency_ms": body["checks"]["upstream"]["latency_ms"],
        "error": "ConnectionError: upstream refused",
    }
    assert all(r["status"] == "pass" for n, r in body["checks"].items() if n != "upstream")
    assert "upstream" in body["detail"]
    assert client.get("/livez").status_code == 200


def test_slow_check_times_out_without_delaying_the_others(app: FastAPI, client: TestClient) -> None:
    """Checks run concurrently; a hung one fails at its own timeout."""

    async def hung() -> None:
        await asyncio.sleep(30)

    async def slowish() -> None:
        await asyncio.sleep(0.2)

    app.state.health.register("hung", hung, timeout=0.3)
    app.state.health.register("slowish", slowish, timeout=1.0)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["hung"]["error"] == "timed out after 0.3s"
    assert body["checks"]["slowish"]["status"] == "pass"
    # Run one after the other, the two would take at least 0.5 s.
    assert body["checks"]["hung"]["latency_ms"] < 450


def test_readyz_turns_503_once_shutdown_begins(app: FastAPI, client: TestClient) -> None:
    """Readiness goes 503 as soon as shutdown starts, while liveness still answers."""
    assert client.get("/readyz").status_code == 200
    app.state.lifecycle.begin_shutdown()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["readiness"] == "shutting_down"
    assert client.get("/livez").status_code == 200


def test_info_reports_build_metadata(client: TestClient) -> None:
    """/info gives the service name, version, commit and build time."""
    body = client.get("/info").json()
    assert set(body) == {"name", "version", "git_commit", "build_time", "environment"}
    assert body["version"] == "0.1.0"
    assert body["environment"] == "test"
