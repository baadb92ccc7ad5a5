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

``--python-functions N`` also says where the instructions go, by Python function: the servers
run with ``PYTHONPERFSUPPORT=1`` (Python 3.12+ on Linux), which gives every Python function a
small native trampoline and names it in ``/tmp/perf-<pid>.map``; callgrind counts each
trampoline's inclusive instructions like any other native function, and the map turns its
address back into the Python function. It prints each variant's N costliest functions
(inclusive instructions a request) and the N that differ most from the first variant. The
trampolines add about a fifth to every count, so compare these figures with each other, not
with the totals of a run without them.
"""

from __future__ import annotations

import argparse
import bisect
import os
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
) -> tuple[float, Path, int]:
    """Instructions a request for one variant, counted around ``requests`` sequential GETs.

    Also returns the callgrind output file and the server's process id.
    """
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
    return sum(int(t) for t in totals) / requests, out, process.pid


# A line of callgrind_annotate for a function without a symbol: its count and its address.
_UNNAMED = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+\?\?\?:0x([0-9a-f]+)", re.MULTILINE)


def python_functions(
    callgrind_out: Path, pid: int, requests: int, project: Path
) -> dict[str, float]:
    """Inclusive instructions a request of each Python function, from the perf map's trampolines."""
    perf_map = Path(f"/tmp/perf-{pid}.map")
    if not perf_map.exists():
        raise RuntimeError(f"{perf_map} was not written: is the service's Python 3.12 or newer?")
    entries = []
    for line in perf_map.read_text().splitlines():
        start, size, name = line.split(" ", 2)
        entries.append((int(start, 16), int(size, 16), name.removeprefix("py::")))
    entries.sort()
    starts = [start for start, _, _ in entries]
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(callgrind_out)],
        check=True, capture_output=True, text=True,
    ).stdout
    costs: dict[str, float] = {}
    for match in _UNNAMED.finditer(annotated):
        address = int(match.group(2), 16)
        i = bisect.bisect_right(starts, address) - 1
        if i < 0 or address >= entries[i][0] + entries[i][1]:
            continue  # not a trampoline
        name = re.sub(r":\S*/(?:site-packages|python3\.\d+)/", ":", entries[i][2])
        name = name.replace(f":{project}/", ":")
        cost = int(match.group(1).replace(",", "")) / requests
        costs[name] = max(costs.get(name, 0.0), cost)  # a recursive function: its outermost call
    perf_map.unlink()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--database", choices=["none", "sqlite"], default="none")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, bare first")
    parser.add_argument("--python-functions", type=int, default=0, metavar="N",
                        help="also print the N costliest Python functions of each variant")
    args = parser.parse_args()
    if args.python_functions:
        os.environ["PYTHONPERFSUPPORT"] = "1"  # the servers inherit it (see the docstring)
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        sys.exit("valgrind is needed: apt-get install valgrind")
    workdir = Path(tempfile.mkdtemp())
    project = render(workdir, args.database)
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)])
    try:
        per_request = {}
        functions: dict[str, dict[str, float]] = {}
        for i, variant in enumerate(args.variants.split(",")):
            per_request[variant], out, pid = count(
                variant, project, workdir, sink_port, args.requests, i
            )
            print(f"{variant}: {per_request[variant]:,.0f} instructions a request", file=sys.stderr)
            if args.python_functions:
                functions[variant] = python_functions(out, pid, args.requests, project)
    finally:
        sink.terminate()
    bare = next(iter(per_request.values()))
    print(f"\nGET /items/{{id}} (database: {args.database}), {args.requests} requests under callgrind")
    print(f"{'variant':<30}{'instructions':>14}{'over bare':>12}{'bare / variant':>16}")
    for variant, value in per_request.items():
        print(f"{variant:<30}{value:>14,.0f}{value - bare:>12,.0f}{bare / value:>15.2f}x")
    if functions:
        print_functions(functions, args.python_functions)


def print_functions(functions: dict[str, dict[str, float]], top: int) -> None:
    """Each variant's costliest Python functions, then what differs most from the first variant."""
    first, *others = functions
    for variant, costs in functions.items():
        print(f"\n{variant}: costliest Python functions, inclusive instructions a request"
              " (with trampolines)")
        for name, cost in sorted(costs.items(), key=lambda item: -item[1])[:top]:
            print(f"{cost:>12,.0f}  {name}")
    for variant in others:
        base, costs = functions[first], functions[variant]
        names = sorted(base.keys() | costs.keys(),
                       key=lambda name: -abs(costs.get(name, 0) - base.get(name, 0)))
        print(f"\n{variant} against {first}: largest differences, inclusive instructions a request")
        print(f"{'first':>12}{'this':>14}{'difference':>12}  function")
        for name in names[:top]:
            before, after = base.get(name, 0.0), costs.get(name, 0.0)
            print(f"{before:>12,.0f}{after:>14,.0f}{after - before:>+12,.0f}  {name}")


if __name__ == "__main__":
    main()
