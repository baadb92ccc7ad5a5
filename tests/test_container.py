"""Tier 5: the generated Dockerfile builds with a real engine, and the image runs and stops well.

The engine and the stand-in base images come from ``engine.py`` (see its docstring for why
and how). The default option set is built: the Dockerfile is the same file for every option
set apart from names, ports and the Python version, which the artifact tier checks.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import engine
import httpx
import pytest
import yaml
from conftest import (
    BASE_ANSWERS,
    TOOL_PATH,
    free_port,
    missing_tool,
    render,
    wait_ready,
)

pytestmark = [pytest.mark.slow, pytest.mark.container]

PACKAGE = BASE_ANSWERS["package_name"]
PREFIX = PACKAGE.upper() + "_"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module", name="engine_ready")
def _engine_ready(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Our dockerd answering (started here when it was not running, and stopped after)."""
    for tool in ("dockerd", "debootstrap"):
        if not shutil.which(tool, path=TOOL_PATH):
            missing_tool(tool)
    try:
        started = engine.start_engine(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
    except engine.EngineUnavailable as exc:
        pytest.fail(f"container engine unavailable: {exc}")
    yield
    engine.stop_engine(started)


@pytest.fixture(scope="module", name="image")
def _image(engine_ready: None, template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default project rendered, locked and built into an image; its inspect data."""
    project = render(template, tmp_path_factory.mktemp("image") / "svc", tasks=True)
    engine.build_python_stand_in(BASE_ANSWERS["python_version"])
    engine.build_uv_stand_in(project / "Dockerfile")
    tag = f"shipshape-test/{BASE_ANSWERS['project_slug']}:{COMMIT[:12]}"
    engine.docker(
        "build", "--network=host",
        "--build-arg", f"GIT_COMMIT={COMMIT}",
        "--build-arg", "BUILD_TIME=2026-11-26T00:00:00Z",
        "-t", tag, str(project),
        timeout=900,
    )
    inspect = json.loads(engine.docker("image", "inspect", tag).stdout)[0]
    inspect["Tag"] = tag
    inspect["Project"] = project
    return inspect


def _grace_period(project: Path) -> int:
    deployment = yaml.safe_load((project / "deploy" / "k8s" / "deployment.yaml").read_text())
    return int(deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])


def test_image_metadata_runs_as_non_root_with_labels(image: dict[str, Any]) -> None:
    """The image runs as a numeric non-root user, binds 0.0.0.0 and carries OCI labels."""
    config = image["Config"]
    user = config["User"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0, user
    assert f"{PREFIX}HOST=0.0.0.0" in config["Env"]
    assert config["Entrypoint"] == ["python", "-m", PACKAGE]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == COMMIT
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.created"] == "2026-11-26T00:00:00Z"
    print(f"\nimage size: {image['Size'] / 1e6:.1f} MB ({image['Tag']})")


def test_container_serves_then_drains_in_flight_requests_on_sigterm(image: dict[str, Any]) -> None:
    """/readyz is 200 as non-root; on SIGTERM an in-flight request completes and it exits 0 in time."""
    port = free_port()
    name = f"shipshape-test-{port}"
    grace = _grace_period(image["Project"])
    engine.docker(
        "run", "-d", "--name", name, "--network=host",
        "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges",
        "-e", f"{PREFIX}PORT={port}", "-e", f"{PREFIX}SHUTDOWN_TIMEOUT=10",
        # auth=oidc: the dev key on the tmpfs (the image is read-only), trusted in development.
        "-e", f"{PREFIX}AUTH_DEV_KEY_FILE=/tmp/dev-key.pem",
        image["Tag"],
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(base, 60), engine.docker("logs", name, check=False).stdout[-3000:]
        ids = engine.docker("exec", name, "python", "-c", "import os; print(os.getuid(), os.getgid())")
        assert ids.stdout.split() == ["10001", "10001"]
        assert httpx.get(f"{base}/info").json()["git_commit"] == COMMIT

        minted = engine.docker("exec", name, "python", "-m", PACKAGE, "dev-token", "--scope", "items:write")
        token = minted.stdout.strip()

        # A request whose body is still arriving is in flight when SIGTERM comes.
        body = json.dumps({"name": "in flight", "quantity": 3}).encode()
        head = (
            f"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=15) as client:
            client.sendall(head + body[:5])
            time.sleep(0.5)
            stopped = time.monotonic()
            engine.docker("kill", "--signal=SIGTERM", name)
            time.sleep(1.0)
            client.sendall(body[5:])
            response = b""
            while chunk := client.recv(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 201"), response[:300]
        assert b'"in flight"' in response

        exit_code = int(engine.docker("wait", name, timeout=grace + 10).stdout.strip())
        elapsed = time.monotonic() - stopped
        assert exit_code == 0, engine.docker("logs", name, check=False).stdout[-3000:]
        assert elapsed < grace, f"took {elapsed:.1f}s to stop, grace period is {grace}s"
        logs = engine.docker("logs", name).stdout.splitlines()
        events = [json.loads(line)["event"] for line in logs if line.strip()]
        assert "service.stopping" in events and "service.stopped" in events
    finally:
        engine.docker("rm", "-f", name, check=False)
