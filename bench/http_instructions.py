"""Instructions per request under callgrind: the generated service vs a bare FastAPI app.

Usage: uv run python bench/http_instructions.py [--requests 1000] [--database none]

The same servers as ``bench/http_overhead.py`` (bare app; the service with tracing off, 100% and
10% sampled, exporting over OTLP/HTTP to a local sink), each run under valgrind's callgrind with
counting switched on only around ``--requests`` GETs of the example item, sent one after another
on one keep-alive connection after a warm-up. It prints the instructions a request and their
ratio to bare's (bare / variant, read like a throughput ratio).

Why: on a shared VM wrk's req/s for the same server moves by 20-30% between rounds, more than
many changes worth making. An instruction count does not move with the machine's load (the
same total within a fraction of a percent run to run), so it shows what a change does to the
work a request needs. It is not time: cache misses, the kernel's share (socket writes, the log
write), and the export thread's competition for the GIL are not in it, and valgrind runs one
thread at a time. Read it beside http_overhead.py, not instead of it. Needs: uv, git, valgrind
(Debian package ``valgrind``, which has callgrind_control).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_overhead import SERVICE_VARIANTS, SINK, free_port, render, serve

VARIANTS = ("bare", *SERVICE_VARIANTS)


def count(
    variant: str, project: Path, workdir: Path, sink_port: int, requests: int, run: int
) -> float:
    """Instructions a request for one variant, counted around ``requests`` sequential GETs."""
    out = workdir / f"callgrind.{run}.out"
    prefix = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    process, url = serve(variant, project, workdir, sink_port, prefix=prefix, ready_timeout=300)
    try:
        with httpx.Client(timeout=60) as client:
            for _ in range(200):  # warm-up: caches filled, first-request work done
                client.get(url).raise_for_status()
            subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True,
                           capture_output=True)
            for _ in range(requests):
                client.get(url).raise_for_status()
            subprocess.run(["callgrind_control", "-i", "off", str(process.pid)], check=True,
                           capture_output=True)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=300)
    totals = re.findall(r"^totals:\s+(\d+)", out.read_text(), flags=re.MULTILINE)
    if not totals:
        raise RuntimeError(f"{variant}: callgrind wrote no totals to {out}")
    return sum(int(t) for t in totals) / requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--database", choices=["none", "sqlite"], default="none")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, bare first")
    args = parser.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("valgrind is needed: apt-get install valgrind")
    workdir = Path(tempfile.mkdtemp())
    project = render(workdir, args.database)
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)])
    try:
        per_request = {}
        for i, variant in enumerate(args.variants.split(",")):
            per_request[variant] = count(variant, project, workdir, sink_port, args.requests, i)
            print(f"{variant}: {per_request[variant]:,.0f} instructions a request", file=sys.stderr)
    finally:
        sink.terminate()
    bare = next(iter(per_request.values()))
    print(f"\nGET /items/{{id}} (database: {args.database}), {args.requests} requests under callgrind")
    print(f"{'variant':<26}{'instructions':>14}{'over bare':>12}{'bare / variant':>16}")
    for variant, value in per_request.items():
        print(f"{variant:<26}{value:>14,.0f}{value - bare:>12,.0f}{bare / value:>15.2f}x")


if __name__ == "__main__":
    main()
