"""Render the template with the default answers and show the service working.

Run through ``scripts/quickstart``, which provides uv and the template's tools.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import copier
import httpx
import yaml
from copier.errors import TaskError, UserMessageError

ROOT = Path(__file__).resolve().parent.parent
# The python_version answers, the template's default first.
PYTHONS = ("3.12", "3.13", "3.11")


# What the quick start asks the running service: (method, path, JSON body, with the token).
EXCHANGES: list[tuple[str, str, dict[str, object] | None, bool]] = [
    ("GET", "/readyz", None, False),
    ("GET", "/info", None, False),
    ("POST", "/items", {"name": "first item", "quantity": 2}, True),
    ("POST", "/items", {"name": ""}, True),
    ("GET", "/items", None, False),  # no token: 401 (auth=oidc, the default)
    ("GET", "/items", None, True),
]


class Stop(Exception):
    """A step failed: the message says what, in a line or two; main() prints it and exits 1."""


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def clean_env() -> dict[str, str]:
    """This environment without the template's own virtualenv (nor its bin/ on PATH)."""
    env = dict(os.environ)
    venv_bin = str(Path(env.pop("VIRTUAL_ENV", sys.prefix)) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def sh(*cmd: str, cwd: Path) -> None:
    print("$", " ".join(cmd), flush=True)
    code = subprocess.run(cmd, cwd=cwd, check=False, env=clean_env()).returncode
    if code:
        raise Stop(f"`{' '.join(cmd)}` failed with exit code {code} (its output is above)")


def pick_python(uv: str) -> str:
    """The python_version answer: the first of PYTHONS uv finds here, else one uv downloads."""
    for version in PYTHONS:
        found = subprocess.run(
            [uv, "python", "find", "--no-project", "--no-python-downloads", version],
            cwd=tempfile.gettempdir(), env=clean_env(), capture_output=True, text=True, check=False,
        )
        if found.returncode == 0:
            print(f"Python {version}: {found.stdout.strip()}")
            return version
    print(f"no Python 3.11, 3.12 or 3.13 here; asking uv to download {PYTHONS[0]}", flush=True)
    try:
        fetched = subprocess.run(
            [uv, "python", "install", PYTHONS[0]],
            env=clean_env(), capture_output=True, text=True, check=False, timeout=600,
        )
        if fetched.returncode == 0:
            return PYTHONS[0]
    except subprocess.TimeoutExpired:
        pass
    raise Stop(
        "the service needs Python 3.11, 3.12 or 3.13: none is installed, and uv could not download one.\n"
        f"Get one with `uv python install {PYTHONS[0]}` (needs network) or your system's python3.12 package."
    )


def listening(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready(url: str, server: subprocess.Popen[str]) -> bool:
    """Wait up to 15 s for ``url`` to answer 200 while the server process runs."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def main() -> int:
    try:
        return quickstart()
    except Stop as stop:
        print(f"quickstart: {stop}", file=sys.stderr)
    except KeyboardInterrupt:
        print("quickstart: interrupted", file=sys.stderr)
    return 1


def quickstart() -> int:
    dst = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "orders-service"
    if dst.exists() and any(dst.iterdir()):
        print(f"{dst} exists and is not empty; give another destination", file=sys.stderr)
        return 2
    uv = shutil.which("uv") or "uv"

    step("pick the Python the service runs on")
    python_version = pick_python(uv)

    step(f"copier copy (default answers, python_version={python_version}) -> {dst}")
    started = time.perf_counter()
    data = {"python_version": python_version}
    try:
        copier.run_copy(str(ROOT), dst, data=data, defaults=True, unsafe=True, quiet=True)
    except TaskError as error:
        raise Stop(f"the copy's task (uv lock in {dst}) failed with exit code {error.returncode} (above)") from None
    except UserMessageError as error:
        raise Stop(f"copier: {error.message}") from None
    print(f"rendered and locked in {time.perf_counter() - started:.1f}s")
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    package = answers["package_name"]

    step("install, then the service's own checks and tests")
    sh(uv, "sync", "--locked", "--quiet", cwd=dst)
    sh(uv, "run", "--no-sync", "ruff", "check", ".", cwd=dst)
    sh(uv, "run", "--no-sync", "mypy", cwd=dst)
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not listening(port)]
    if missing:
        # The service's own tests talk to real servers; without them, show it running instead.
        print(f"skipping the service's tests: {', '.join(missing)} not running on 127.0.0.1")
    else:
        sh(uv, "run", "--no-sync", "pytest", "-q", cwd=dst)

    step("start the service and talk to it")
    port = free_port()
    prefix = package.upper() + "_"
    env = clean_env()
    env[f"{prefix}PORT"] = str(port)
    server = subprocess.Popen(
        [str(dst / ".venv" / "bin" / "python"), "-m", package], cwd=dst, env=env,
        stdout=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    failure = ""
    try:
        if not ready(f"{base}/readyz", server):
            failure = f"the service did not answer {base}/readyz with 200 (its log is above)"
        # A token from the service's dev key (trusted in development only), as its README shows.
        auth: dict[str, str] = {}
        if not failure and answers.get("auth", "oidc") == "oidc":
            cmd = [str(dst / ".venv" / "bin" / "python"), "-m", package, "dev-token", "--scope", "items:read items:write"]
            print("$", " ".join(cmd[2:]), flush=True)
            minted = subprocess.run(cmd, cwd=dst, env=env, capture_output=True, text=True, check=False)
            if minted.returncode:
                failure = f"dev-token failed: {minted.stderr.strip()}"
            auth = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        for method, path, body, with_token in [] if failure else EXCHANGES:
            response = httpx.request(method, f"{base}{path}", json=body, headers=auth if with_token else {})
            shown = " (with the dev token)" if with_token and auth else ""
            print(f"{method} {path}{shown} -> {response.status_code} {response.text}")
    except httpx.TransportError as error:
        failure = f"the service stopped answering ({error}; its log is above)"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
    print("\nthe service's log (one JSON object per line):")
    print(out.rstrip())
    if failure:
        raise Stop(failure)
    print(f"\nexit code after SIGTERM: {server.returncode}")
    print(f"\nYour service is in {dst}; see its README.md.")
    return 0 if server.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
