"""Every figure of DESIGN.md's performance table, from one run, printed as one table.

Usage: uv run python bench/report.py [--runs 5] [--seconds 8] [--rounds 2] [--connections 32]

In one run, on this machine:

1. ``copier copy`` (render only, tasks skipped) of every option set in ``tests/conftest.py``,
   median of ``--runs``; the default answers and the largest option set (most files) are shown;
2. per option set, ``copier copy`` with its ``uv lock`` task, ``uv sync``, and the generated
   project's own ``pytest``: its default tier (its wall time, and copy-to-green in all), then
   every tier (``-m "slow or not slow"``, as its CI runs). The uv cache is warmed by a first,
   unmeasured copy-and-sync of the default answers;
3. service start (``python -m <package>``) to the first ``/readyz`` 200 (wall and CPU time),
   and the idle RSS of the one worker a second later, median of ``--runs`` rounds interleaved
   with a bare FastAPI app (``bench/startup.py``, which also runs on its own): for the default
   answers (an embedded SQLite file, migrated at start when behind) and without a database;
4. throughput, p50 and p99 under wrk, everything on (JSON access log, metrics, tracing to a
   local OTLP sink) vs the bare app with the same handlers, rounds interleaved
   (``bench/http_overhead.py`` does the serving and the measuring): ``GET /items/{id}`` at 100%
   and 10% sampling, and the idempotent ``POST /items`` with a new Idempotency-Key per request
   at 10% sampling, its keys in Redis when Redis answers on 127.0.0.1:6379 (else in memory).
   The service is rendered without a database here (items in memory, as in the bare app), so
   the ratios measure what the service adds, not a database round trip.

Needs uv, git and wrk (Debian package ``wrk``). The machine is shared and noisy: compare the
ratios, not the absolute figures, and rerun before believing a change.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import copier
from plumbum import local

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT / "tests")]

import copy_time  # (bench/copy_time.py: the committed snapshot of the template)
import http_overhead  # (bench/http_overhead.py: bare app, serving, wrk)
import startup  # (bench/startup.py: start to /readyz 200 and idle RSS beside bare FastAPI)
from conftest import BASE_ANSWERS, OPTION_SETS  # (the option sets the tests use)

UV = str(Path(sys.executable).with_name("uv")) if Path(sys.executable).with_name("uv").exists() else "uv"

Row = tuple[str, str, str]  # figure, value, target


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(Path(UV).parent), env.get("PATH", "")])
    return {**env, **extra}


def copy(src: Path, answers: dict[str, Any], *, tasks: bool) -> tuple[Path, float]:
    dst = Path(tempfile.mkdtemp(prefix="shipshape-bench-")) / "svc"
    started = time.perf_counter()
    copier.run_copy(
        str(src),
        dst,
        data={**BASE_ANSWERS, **answers},
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=not tasks,
    )
    return dst, time.perf_counter() - started


def timed(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=clean_env(), check=True, capture_output=True)
    return time.perf_counter() - started


def copy_times(src: Path, runs: int) -> dict[str, tuple[float, int]]:
    """Median render time and file count per option set."""
    result: dict[str, tuple[float, int]] = {}
    for name, answers in OPTION_SETS.items():
        copy(src, answers, tasks=False)  # warm
        samples = []
        for _ in range(runs):
            dst, seconds = copy(src, answers, tasks=False)
            samples.append(seconds)
            files = sum(1 for p in dst.rglob("*") if p.is_file())
            shutil.rmtree(dst.parent)
        result[name] = (statistics.median(samples), files)
    return result


def to_green(src: Path) -> dict[str, dict[str, float]]:
    """Per option set: copy with the lock task, uv sync, pytest's default tier; seconds for each.

    Also the whole suite (every tier, as CI runs it), timed after the default tier.
    """
    warm, _ = copy(src, {}, tasks=True)
    timed([UV, "sync", "--locked", "--quiet"], warm)
    result: dict[str, dict[str, float]] = {}
    for name, answers in OPTION_SETS.items():
        project, copy_s = copy(src, answers, tasks=True)
        sync_s = timed([UV, "sync", "--locked", "--quiet"], project)
        pytest = [UV, "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider", "-x"]
        suite_s = timed(pytest, project)  # the default (fast) tier: what `uv run pytest` runs
        all_s = timed([*pytest, "-m", "slow or not slow"], project)  # every tier, as CI runs
        result[name] = {"copy": copy_s, "sync": sync_s, "suite": suite_s, "all": all_s}
        print(f"{name}: {result[name]}", file=sys.stderr)
    return result


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


GET_VARIANTS = ["bare", "service: 100% sampled", "service: 10% sampled"]
POST_VARIANTS = ["POST bare", "POST service: 10% sampled"]


def throughput(
    project: Path, workdir: Path, args: argparse.Namespace
) -> tuple[dict[str, dict[str, float]], str]:
    """Medians per variant, and where the POST variant kept its idempotency keys."""
    sink_port = http_overhead.free_port()
    sink = subprocess.Popen([sys.executable, "-c", http_overhead.SINK, str(sink_port)])
    script = workdir / "post.lua"
    script.write_text(http_overhead.POST_LUA)
    prefix = BASE_ANSWERS["package_name"].upper() + "_"
    # Keys expire a minute after the run; a prefix of their own keeps them apart.
    keys = {f"{prefix}REDIS_URL": "redis://127.0.0.1:6379/0", f"{prefix}IDEMPOTENCY_TTL": "60",
            f"{prefix}REDIS_KEY_PREFIX": "shipshape-bench:"} if redis_answers() else {}
    results: dict[str, list[dict[str, float]]] = {v: [] for v in GET_VARIANTS + POST_VARIANTS}
    try:
        for _ in range(args.rounds):
            for variant in GET_VARIANTS + POST_VARIANTS:
                post = variant.startswith("POST ")
                served = variant.removeprefix("POST ")
                process, url = http_overhead.serve(served, project, workdir, sink_port, keys if post else None)
                if post:
                    url = url.rsplit("/items/", 1)[0] + "/items"
                try:
                    http_overhead.run_wrk(url, 2, args.connections, script if post else None)  # warm-up
                    results[variant].append(
                        http_overhead.run_wrk(url, args.seconds, args.connections, script if post else None)
                    )
                finally:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=30)
                print(f"{variant}: {results[variant][-1]}", file=sys.stderr)
    finally:
        sink.terminate()
        sink.wait()
    medians = {
        v: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
        for v, rs in results.items()
    }
    return medians, "Redis" if keys else "memory"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()} (bench), {time.strftime('%Y-%m-%d')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="samples per copy/start-up figure")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved wrk rounds")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    local.env["PATH"] = f"{Path(UV).parent}:{local.env.get('PATH', '')}"  # copier's uv lock task

    src = copy_time.snapshot()
    print("copier copy ...", file=sys.stderr)
    copies = copy_times(src, args.runs)
    print("copy to green ...", file=sys.stderr)
    green = to_green(src)
    workdir = Path(tempfile.mkdtemp(prefix="shipshape-bench-"))
    project = http_overhead.render(workdir, "none")
    default_dir = Path(tempfile.mkdtemp(prefix="shipshape-bench-"))
    default_project = http_overhead.render(default_dir, "sqlite")
    print("start-up ...", file=sys.stderr)
    starts = startup.measure({"default": default_project, "no database": project},
                             startup.write_bare_app(default_dir), args.runs)
    print("throughput ...", file=sys.stderr)
    http, store = throughput(project, workdir, args)

    largest = max(copies, key=lambda name: copies[name][1])
    rows: list[Row] = [
        ("copier copy, default answers (render, median)", f"{copies['default'][0]:.2f} s", "<= 1.0 s"),
        (f"copier copy, largest option set ({largest}, {copies[largest][1]} files)",
         f"{copies[largest][0]:.2f} s", "<= 1.0 s"),
    ]
    for name, t in green.items():
        total = t["copy"] + t["sync"] + t["suite"]
        rows.append((f"copy to green default tier, {name} (copy+lock {t['copy']:.1f} s, sync {t['sync']:.1f} s)",
                     f"{total:.1f} s", "<= 45 s"))
    for name, t in green.items():
        rows.append((f"generated `pytest` (default tier) wall time, {name}", f"{t['suite']:.1f} s", "< 20 s"))
    for name, t in green.items():
        rows.append((f"generated suite, every tier (-m 'slow or not slow'), {name}", f"{t['all']:.1f} s", "-"))
    bare_s, bare_cpu, bare_mb = starts["bare"]
    for name, label, target in (("default", "default answers (SQLite file)", "<= 1.3x bare"),
                                ("no database", "no database", "-")):
        wall, cpu, _ = starts[name]
        rows.append((f"service start to /readyz 200, {label}: wall (vs bare), CPU (vs bare)",
                     f"{wall:.2f} s ({wall / bare_s:.2f}x), {cpu:.2f} s ({cpu / bare_cpu:.2f}x)", target))
    rows.append(("  bare FastAPI start to /readyz 200: wall, CPU", f"{bare_s:.2f} s, {bare_cpu:.2f} s", "-"))
    for name, label in (("default", "default answers"), ("no database", "no database")):
        rows.append((f"idle RSS, one worker, {label}", f"{starts[name][2]:.0f} MB", "<= 70 MB"))
    rows.append(("  bare FastAPI idle RSS", f"{bare_mb:.0f} MB", "-"))
    bare = http["bare"]
    rows.append(("GET /items/{id}, bare FastAPI: req/s, p50, p99",
                 f"{bare['rps']:.0f}, {bare['p50']:.2f} ms, {bare['p99']:.2f} ms", "-"))
    for variant, target in (("service: 100% sampled", ">= 0.5x, p99 <= 2x"),
                            ("service: 10% sampled", ">= 0.8x")):
        m = http[variant]
        value = (
            f"{m['rps']:.0f} ({m['rps'] / bare['rps']:.2f}x), {m['p50']:.2f} ms, "
            f"{m['p99']:.2f} ms ({m['p99'] / bare['p99']:.2f}x)"
        )
        figure = f"GET /items/{{id}}, everything on, {variant.split(': ')[1]}: req/s, p50, p99"
        rows.append((figure, value, target))
    bare_post, post = http["POST bare"], http["POST service: 10% sampled"]
    rows.append(("POST /items, bare FastAPI: req/s, p50, p99",
                 f"{bare_post['rps']:.0f}, {bare_post['p50']:.2f} ms, {bare_post['p99']:.2f} ms", "-"))
    post_figure = f"POST /items with Idempotency-Key (keys in {store}), everything on, 10% sampled"
    post_value = (f"{post['rps']:.0f} ({post['rps'] / bare_post['rps']:.2f}x), {post['p50']:.2f} ms, "
                  f"{post['p99']:.2f} ms ({post['p99'] / bare_post['p99']:.2f}x)")
    rows.append((post_figure + ": req/s, p50, p99", post_value, "-"))

    print(f"\nmachine: {machine()}")
    print(f"wrk: {args.connections} connections, {args.seconds} s x {args.rounds} rounds (median); "
          f"copies and start-ups: median of {args.runs}\n")
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"| {'figure':<{width}} | {'measured':<{value_width}} | target |")
    print(f"| {'-' * width} | {'-' * value_width} | --- |")
    for figure, value, target in rows:
        print(f"| {figure:<{width}} | {value:<{value_width}} | {target} |")


if __name__ == "__main__":
    main()
