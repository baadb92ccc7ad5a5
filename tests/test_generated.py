"""Tier 3: rendered projects install and pass their own ruff, mypy --strict and pytest.

Dependencies are resolved afresh at copy time (the template's ``uv lock`` task), so a release
that breaks generated services fails here first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import (
    BASE_ANSWERS,
    GENERATED_PYTEST,
    OPTION_SETS,
    clean_env,
    dev_token,
    free_port,
    render,
    run,
    uv_bin,
    wait_ready,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", name="projects")
def _projects(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each option set rendered with tasks (so uv.lock is created), committed and synced."""
    projects: dict[str, Path] = {}
    for name, answers in OPTION_SETS.items():
        project = render(template, tmp_path_factory.mktemp(name) / "svc", tasks=True, **answers)
        assert (project / "uv.lock").is_file(), "the copy task did not lock dependencies"
        run(["git", "init", "-q"], project)
        run(["git", "add", "-A"], project)
        run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"], project)
        run([uv_bin(), "sync", "--locked", "--quiet"], project)
        projects[name] = project
    return projects


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_ruff_passes_and_formatting_is_stable(projects: dict[str, Path], option_set: str) -> None:
    """ruff check passes, and ruff format changes nothing that was committed."""
    project = projects[option_set]
    run([uv_bin(), "run", "--no-sync", "ruff", "check", "."], project)
    run([uv_bin(), "run", "--no-sync", "ruff", "format", "."], project)
    status = run(["git", "status", "--porcelain"], project).stdout
    assert status == "", f"ruff format changed generated files:\n{status}"


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_mypy_strict_passes(projects: dict[str, Path], option_set: str) -> None:
    """The generated code and tests type-check under mypy --strict."""
    run([uv_bin(), "run", "--no-sync", "mypy", "--strict"], projects[option_set])


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_bandit_finds_nothing(projects: dict[str, Path], option_set: str) -> None:
    """bandit, run as the generated CI runs it, reports no issue in the service's code."""
    run([uv_bin(), "run", "--no-sync", "bandit", "-q", "-r", "src"], projects[option_set])


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_generated_test_suite_passes(projects: dict[str, Path], option_set: str, tmp_path: Path) -> None:
    """The project's own pytest suite passes, and never touches the developer's own .env database."""
    project = projects[option_set]
    package = {**BASE_ANSWERS, **OPTION_SETS[option_set]}["package_name"]
    prefix = package.upper() + "_"
    owned = tmp_path / "developer.sqlite3"  # the database the developer's .env points at
    (project / ".env").write_text(f"{prefix}SQLITE_PATH={owned}\n{prefix}REDIS_KEY_PREFIX=developer:\n")
    before = {path.name for path in project.iterdir()}
    try:
        result = run([uv_bin(), "run", "--no-sync", *GENERATED_PYTEST], project)
    finally:
        (project / ".env").unlink()
    assert " passed" in result.stdout
    assert " failed" not in result.stdout
    assert not owned.exists(), "a test wrote to the database the project's .env names"
    created = {path.name for path in project.iterdir()} - before
    assert not {name for name in created if name.endswith((".sqlite3", ".db"))}, created


def test_rendered_service_starts_logs_json_and_stops_on_sigterm(projects: dict[str, Path], tmp_path: Path) -> None:
    """The default service serves /readyz, writes only JSON lines, and exits 0 on SIGTERM."""
    project = projects["default"]
    package = BASE_ANSWERS["package_name"]
    prefix = package.upper() + "_"
    port = free_port()
    shutdown_timeout = 5
    env = clean_env(**{
        f"{prefix}PORT": str(port),
        f"{prefix}SHUTDOWN_TIMEOUT": str(shutdown_timeout),
        f"{prefix}SQLITE_PATH": str(tmp_path / "smoke.sqlite3"),  # a new embedded database
    })
    process = subprocess.Popen(
        [str(project / ".venv" / "bin" / "python"), "-m", package],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(base, 30), "service never answered /readyz with 200"
        flags = httpx.get(f"{base}/readyz").json()["checks"]["flags"]["detail"]
        assert flags == {"provider": "file:flags/flags.json", "state": "READY"}
        auth = dev_token(project, package, env)
        listing = httpx.get(f"{base}/items", headers=auth)
        assert listing.status_code == 200
        assert "quantity_total" not in listing.json()
        info = httpx.get(f"{base}/info").json()
        assert info["name"] == BASE_ANSWERS["project_slug"]
        created = httpx.post(f"{base}/items", json={"name": "x"}, headers={"X-Request-ID": "tpl-1", **auth})
        assert created.status_code == 201
        bad = httpx.post(f"{base}/items", content=b"{not json", headers={"content-type": "application/json", **auth})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"

        stop = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=shutdown_timeout + 5)
        assert process.returncode == 0, stderr
        assert time.monotonic() - stop < shutdown_timeout
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert lines
    for line in lines:
        assert {"timestamp", "level", "event", "logger"} <= line.keys(), line
    access = [line for line in lines if line["event"] == "http.request"]
    assert any(line.get("request_id") == "tpl-1" and line["route"] == "/items" for line in access)
    # The embedded database migrated itself at start, without Alembic's plugin chatter.
    assert any(line["event"].startswith("Running upgrade") for line in lines)
    assert not [line for line in lines if line["logger"] == "alembic.runtime.plugins"]
    assert stderr.strip() == "", f"unexpected stderr output: {stderr}"
    assert os.path.exists(project / "uv.lock")
