"""The service as a real process: start, serve, log JSON, stop cleanly on SIGTERM."""

import json
import signal
import subprocess
from collections.abc import Iterator

import httpx2 as httpx
import pytest

from .service_process import SHUTDOWN_TIMEOUT, running_service

pytestmark = pytest.mark.slow  # the service as a real process


@pytest.fixture(name="server")
def _server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    with running_service() as service:
        yield service.process, service.base


def test_real_process_serves_logs_json_and_stops_on_sigterm(
    server: tuple[subprocess.Popen[str], str],
) -> None:
    """Every stdout line is JSON with the base fields; SIGTERM exits 0 within the timeout."""
    process, base = server
    created = httpx.post(
        f"{base}/items", json={"name": "smoke"}, headers={"X-Request-ID": "smoke-1"}
    )
    assert created.status_code == 201
    assert httpx.get(f"{base}/nope").status_code == 404

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=SHUTDOWN_TIMEOUT + 5)
    assert process.returncode == 0

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines, "the service wrote nothing to stdout"
    for line in lines:
        assert {"timestamp", "level", "event", "logger"} <= set(line), line
    events = [line["event"] for line in lines]
    assert "service.started" in events
    assert "service.stopping" in events
    assert "service.stopped" in events
    access = [line for line in lines if line["event"] == "http.request"]
    assert {key: access[0][key] for key in ("method", "route", "status")} == {
        "method": "POST",
        "route": "/items",
        "status": 201,
    }
    assert access[0]["request_id"] == "smoke-1"
