"""Cost of bearer-token checks: the example GET with auth=oidc beside the same service with auth=none.

Usage: uv run python bench/auth_overhead.py [--seconds 8] [--rounds 3] [--connections 32]

Renders the template twice (``--data auth=oidc`` and ``auth=none``, both with database=none so
items are in memory and the figures measure the edge, not a database), installs each, and
serves one at a time with ``python -m orders_service`` (uvicorn, one worker, JSON access log to
/dev/null, tracing off). wrk (Debian package ``wrk``) drives ``GET /items/{id}`` in three
variants, rounds interleaved and rotated so machine noise hits each alike:

- none: the auth=none service, no Authorization header (the baseline of every ratio);
- oidc, repeated token: one dev-key token on every request (the verified-token cache answers);
- oidc, new tokens: a pool of distinct tokens, more than the cache keeps, cycled by a wrk Lua
  script, so every request pays the signature check (ES256, the dev key's algorithm).

Tokens come from the service's own ``dev-token`` code (the dev key, trusted in development).
Prints req/s, p50 and p99 per variant (median over rounds) and the ratio to none. Needs uv,
wrk, git. Figures go to bench/HISTORY.md, not to tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import copier
import httpx

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "orders_service"
PREFIX = PACKAGE.upper() + "_"
POOL = 12_000  # distinct tokens for "new tokens": more than auth/tokens.py's MAX_CACHED (10,000)

MINT = f"""
import sys
from pathlib import Path
from {PACKAGE}.auth import dev_token
key, count = Path(sys.argv[1]), int(sys.argv[2])
for i in range(count):
    print(dev_token(key, "orders-service", ["items:read", "items:write"], subject=f"b{{i}}", ttl=7200))
"""

# Cycles through tokens.txt (one per line): a different token on each request.
CYCLE = """
local tokens = {}
for line in io.lines("tokens.txt") do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
    i = i % #tokens + 1
    wrk.headers["Authorization"] = "Bearer " .. tokens[i]
    return wrk.format("GET")
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(workdir: Path, auth: str) -> Path:
    project = workdir / auth
    data = {"auth": auth, "database": "none", "redis": True}
    copier.run_copy(str(ROOT), project, data=data, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
    subprocess.run(["uv", "sync", "--quiet", "--no-dev"], cwd=project, check=True)
    return project


def serve(project: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX) and not k.startswith("OTEL_")}
    env |= {f"{PREFIX}PORT": str(port), f"{PREFIX}APP_ENV": "development", "OTEL_SDK_DISABLED": "true"}
    env[f"{PREFIX}AUTH_DEV_KEY_FILE"] = str(project / ".dev-keys" / "signing-key.pem")
    process = subprocess.Popen([str(project / ".venv/bin/python"), "-m", PACKAGE], cwd=project, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    sys.exit(f"{project.name}: the service did not become ready")


def run_wrk(url: str, seconds: int, connections: int, extra: list[str], cwd: Path) -> tuple[float, float, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
                         cwd=cwd, capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses", out):
        sys.exit(f"wrk saw error responses:\n{out}")

    def pct(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rate, pct("50"), pct("99")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool", type=int, default=POOL, help="distinct tokens for 'new tokens'")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="auth-bench-"))
    projects = {auth: render(workdir, auth) for auth in ("none", "oidc")}
    oidc = projects["oidc"]
    key = oidc / ".dev-keys" / "signing-key.pem"
    minted = subprocess.run([str(oidc / ".venv/bin/python"), "-c", MINT, str(key), str(args.pool + 1)],
                            cwd=oidc, capture_output=True, text=True, check=True).stdout.split()
    repeated, pool = minted[0], minted[1:]
    (workdir / "tokens.txt").write_text("\n".join(pool) + "\n")
    (workdir / "cycle.lua").write_text(CYCLE)
    variants = {
        "none": ("none", []),
        "oidc, repeated token": ("oidc", ["-H", f"Authorization: Bearer {repeated}"]),
        "oidc, new tokens": ("oidc", ["-s", "cycle.lua"]),
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    names = list(variants)
    for round_no in range(args.rounds):
        for name in names[round_no % len(names):] + names[: round_no % len(names)]:
            auth, extra = variants[name]
            port = free_port()
            server = serve(projects[auth], port)
            try:
                base = f"http://127.0.0.1:{port}"
                headers = {"Authorization": f"Bearer {repeated}"} if auth == "oidc" else {}
                item = httpx.post(f"{base}/items", json={"name": "bench"}, headers=headers).json()
                url = f"{base}/items/{item['id']}"
                results[name].append(run_wrk(url, args.seconds, args.connections, extra, workdir))
            finally:
                server.terminate()
                server.wait(30)
    baseline = statistics.median(r[0] for r in results["none"])
    print(f"\nGET /items/{{id}}, {args.rounds} rounds x {args.seconds}s, {args.connections} connections (median)")
    print(f"{'variant':24s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'vs none':>8s}")
    for name, runs in results.items():
        rate = statistics.median(r[0] for r in runs)
        p50, p99 = (statistics.median(r[i] for r in runs) for i in (1, 2))
        print(f"{name:24s} {rate:9.0f} {p50:8.2f} {p99:8.2f} {rate / baseline:7.2f}x")


if __name__ == "__main__":
    main()
