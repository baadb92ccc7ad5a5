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

ROOT = Path(__file__).resolve().parent.parent


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def sh(*cmd: str, cwd: Path) -> None:
    print("$", " ".join(cmd), flush=True)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    subprocess.run(cmd, cwd=cwd, check=True, env=env)


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


def main() -> int:
    dst = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "orders-service"
    if dst.exists() and any(dst.iterdir()):
        print(f"{dst} exists and is not empty; give another destination", file=sys.stderr)
        return 2
    uv = shutil.which("uv") or "uv"

    step(f"copier copy (default answers) -> {dst}")
    started = time.perf_counter()
    copier.run_copy(str(ROOT), dst, defaults=True, unsafe=True, quiet=True)
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
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env[f"{prefix}PORT"] = str(port)
    server = subprocess.Popen(
        [str(dst / ".venv" / "bin" / "python"), "-m", package], cwd=dst, env=env,
        stdout=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        for method, path, body in [
            ("GET", "/readyz", None),
            ("GET", "/info", None),
            ("POST", "/items", {"name": "first item", "quantity": 2}),
            ("POST", "/items", {"name": ""}),
        ]:
            response = httpx.request(method, f"{base}{path}", json=body)
            print(f"{method} {path} -> {response.status_code} {response.text}")
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
    print("\nthe service's log (one JSON object per line):")
    print(out.rstrip())
    print(f"\nexit code after SIGTERM: {server.returncode}")
    print(f"\nYour service is in {dst}; see its README.md.")
    return 0 if server.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
