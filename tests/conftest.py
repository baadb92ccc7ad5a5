"""One way to render the template: baseline answers plus overrides."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import copier
import httpx
import pytest
from plumbum import local

REPO = Path(__file__).resolve().parent.parent

# Copier tasks (``uv lock``) and rendered projects find uv beside this interpreter. Copier
# runs tasks with plumbum's environment, a snapshot taken at import, so patch both.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
local.env["PATH"] = os.environ["PATH"]

# Debian tools a few tests need, with what they check. `.ci/run` installs them and sets
# SHIPSHAPE_REQUIRE_TOOLS=1, so there a missing one fails its tests; elsewhere (a fresh
# machine) only those tests skip, and the run's header names what is missing.
REQUIRE_TOOLS = os.environ.get("SHIPSHAPE_REQUIRE_TOOLS") == "1"
OPTIONAL_TOOLS = {
    "promtool": "Debian's prometheus: the SLO rule checks",
    "dockerd": "Debian's docker.io, with debootstrap and root: the container tier",
    "debootstrap": "Debian's debootstrap: the container tier's stand-in base images",
}


def missing_tool(tool: str, detail: str = "") -> None:
    """Fail (under .ci/run) or skip the test: ``tool`` is not on this machine."""
    message = f"{tool} is not available ({OPTIONAL_TOOLS[tool]}){detail}"
    if REQUIRE_TOOLS:
        pytest.fail(message)
    pytest.skip(message)


def pytest_report_header() -> str | None:
    missing = [tool for tool in OPTIONAL_TOOLS if not shutil.which(tool, path=TOOL_PATH)]
    if not missing:
        return None
    names = "; ".join(f"{tool} ({OPTIONAL_TOOLS[tool]})" for tool in missing)
    return f"not installed, so their tests skip: {names}. .ci/run installs them."


TOOL_PATH = os.pathsep.join([os.environ["PATH"], "/usr/sbin", "/sbin"])

def dev_token(project: Path, package: str, env: dict[str, str], scopes: str = "items:read items:write") -> dict[str, str]:
    """An Authorization header with a token from the project's dev key (auth=oidc, the default)."""
    mint = [str(project / ".venv" / "bin" / "python"), "-m", package, "dev-token", "--scope", scopes]
    token = subprocess.run(mint, cwd=project, env=env, capture_output=True, text=True, check=True)
    return {"Authorization": f"Bearer {token.stdout.strip()}"}


# Every question's answer, spelled out, so a test says only what it changes.
BASE_ANSWERS: dict[str, Any] = {
    "project_name": "Orders Service",
    "project_slug": "orders-service",
    "package_name": "orders_service",
    "description": "Takes and tracks customer orders",
    "author_name": "Platform Team",
    "author_email": "platform-team@example.com",
    "python_version": "3.12",
    "http_port": 8000,
    "ci_provider": "github",
    "database": "postgres",
    "redis": True,
    "broker": "none",
    "auth": "oidc",
}

# A generated project's pytest, every tier: its default run leaves out the tests marked slow
# (real processes, fuzzing, shutdown under load, replicas, outages); the template runs them all.
GENERATED_PYTEST = ["pytest", "-q", "-p", "no:cacheprovider", "-m", "slow or not slow"]

# Option sets rendered in every tier; together they cover every value of every choice.
OPTION_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "py311-billing": {
        "project_name": "Billing API",
        "project_slug": "billing-api",
        "package_name": "billing_api",
        "python_version": "3.11",
        "http_port": 9000,
        "description": 'Bills "customers" \\ monthly: a description with quotes & backslashes',
        "ci_provider": "gitlab",
        "database": "none",
        "auth": "none",
    },
    "py313-inventory": {
        "project_name": "Inventory",
        "project_slug": "inventory",
        "package_name": "inventory_core",
        "python_version": "3.13",
        "http_port": 65535,
        "author_name": "Zoë O'Brien",
        "redis": False,
        "broker": "rabbitmq",
    },
    "redis-streams": {"broker": "redis"},
    "nats-jetstream": {"broker": "nats", "redis": False},
}


def uv_bin() -> str:
    """The uv executable installed with the template's dev dependencies (or on PATH)."""
    local = Path(sys.executable).with_name("uv")
    found = str(local) if local.exists() else shutil.which("uv")
    if not found:
        raise RuntimeError("uv is required: install the template's dev dependencies")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for commands run inside a rendered project (no outer venv leaking in)."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(Path(uv_bin()).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def render(
    template: Path, dst: Path, *, tasks: bool = False, **overrides: Any
) -> Path:
    """Render the template into ``dst`` with the baseline answers plus ``overrides``."""
    copier.run_copy(
        str(template),
        dst,
        data={**BASE_ANSWERS, **overrides},
        defaults=True,
        unsafe=True,
        skip_tasks=not tasks,
        vcs_ref="HEAD",
        quiet=True,
    )
    return dst


def run(cmd: list[str], cwd: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command in a project, failing the test with its output if it fails."""
    result = subprocess.run(
        cmd, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, timeout: float) -> bool:
    """Poll ``base``/readyz until it answers 200 (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


@pytest.fixture(scope="session", name="template")
def _template(copier_template: Path) -> Path:
    """A clean git copy of the template (copier.yml, extensions/, template/) from pytest-copier."""
    return copier_template


@pytest.fixture(scope="session")
def copier_template_paths() -> list[str]:
    """Copy only the template itself (not .git, venvs or caches) into pytest-copier's repo."""
    return ["copier.yml", "extensions", "template"]


@pytest.fixture(scope="session", name="rendered")
def _rendered(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every option set rendered once (no tasks), shared by the read-only artifact tests."""
    return {
        name: render(template, tmp_path_factory.mktemp(name) / "project", **answers)
        for name, answers in OPTION_SETS.items()
    }


def answers_of(option_set: str) -> dict[str, Any]:
    """The full answers of an option set: the baseline plus its overrides."""
    return {**BASE_ANSWERS, **OPTION_SETS[option_set]}
