"""Service start to the first ``/readyz`` 200 and idle RSS, beside a bare FastAPI app, one run.

Usage: uv run python bench/startup.py [--runs 9] [--default PROJECT] [--no-db PROJECT]

Three servers are started one after another, round after round (each round begins one server
later, so none always follows the same one), and each is stopped with SIGTERM after its figures:

- bare: ``python -m uvicorn bare_app:app``, the bare app of ``bench/http_overhead.py`` (same
  routes and handler shape) plus a ``GET /readyz`` that answers 200, on uvicorn's defaults
  (which pick uvloop and httptools, as the service does);
- default: the default answers, ``python -m orders_service`` (an embedded SQLite file, which
  the service migrates at start when it is behind);
- no database: ``--data database=none``.

Each figure is the wall time from spawning the process to the first 200 from ``/readyz``
(polled every 5 ms with http.client), the server's CPU time by then (user + system, from
``/proc/<pid>/stat``: less sensitive than wall time to a loaded machine), and its resident set
(``VmRSS`` in ``/proc/<pid>/status``) one second later. One unmeasured start of each server
comes first: it writes the byte-code caches (the servers run without
``PYTHONDONTWRITEBYTECODE``, as the image ships compiled byte code) and migrates the SQLite
file. The medians and the ratios to bare are printed; on a shared machine read the ratios.

``--default`` and ``--no-db`` take projects already rendered and synced (``uv sync``), to
measure a change without rendering again; otherwise both are rendered from the committed
template (HEAD) and synced without dev dependencies. ``--also NAME=PROJECT`` adds a project
(another build, say) to the same rounds.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import copier
from plumbum import local

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import http_overhead  # (bench/http_overhead.py: the bare app, free ports)

ROOT = BENCH.parent
PACKAGE = http_overhead.PACKAGE
READYZ = '\n@app.get("/readyz")\nasync def readyz() -> dict[str, str]:\n    return {"status": "pass"}\n'

Sample = tuple[float, float, float]  # seconds to ready, CPU seconds to ready, RSS in MB


def clean_env(**extra: str) -> dict[str, str]:
    """This environment, minus what would change the servers' start (byte-code caches on)."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return {**env, **extra}


def render(workdir: Path, answers: dict[str, str]) -> Path:
    """Render the committed template with ``answers`` and sync it (no dev dependencies)."""
    local.env["PATH"] = f"{Path(sys.executable).parent}:{local.env.get('PATH', '')}"  # uv lock task
    project = workdir / "svc"
    copier.run_copy(str(ROOT), project, data=answers, defaults=True, unsafe=True, quiet=True,
                    vcs_ref="HEAD")
    uv = str(Path(sys.executable).with_name("uv"))
    subprocess.run([uv, "sync", "--quiet", "--no-dev"], cwd=project, check=True, env=clean_env())
    return project


def write_bare_app(workdir: Path) -> Path:
    (workdir / "bare_app.py").write_text(http_overhead.BARE_APP + READYZ)
    return workdir


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def answers(port: int) -> bool:
    """One probe of ``/readyz``: http.client, whose failed attempt costs ~50 us of CPU (httpx's
    ~20 ms, for its SSL context, would take a core from the starting server)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of ``pid`` so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_to_ready(cmd: list[str], cwd: Path, env: dict[str, str], port: int) -> Sample:
    """Seconds (wall, CPU) from spawn to the first 200 from ``/readyz``; RSS 1 s later (MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"{cmd} exited with {process.returncode}")
            time.sleep(0.005)
        ready, cpu = time.perf_counter() - started, cpu_seconds(process.pid)
        time.sleep(1)
        return ready, cpu, rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def start(server: str, projects: dict[str, Path], bare_dir: Path) -> Sample:
    port = http_overhead.free_port()
    if server == "bare":
        python = str(projects["default"] / ".venv" / "bin" / "python")
        cmd = [python, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level", "warning"]
        return start_to_ready(cmd, bare_dir, clean_env(), port)
    python = str(projects[server] / ".venv" / "bin" / "python")
    env = clean_env(**{f"{PACKAGE.upper()}_PORT": str(port)})
    return start_to_ready([python, "-m", PACKAGE], projects[server], env, port)


def measure(projects: dict[str, Path], bare_dir: Path, runs: int) -> dict[str, Sample]:
    """Medians (seconds to ready, CPU seconds, RSS MB) per server: "bare" and ``projects``."""
    servers = ["bare", *projects]
    for server in servers:  # warm: byte-code caches, the embedded database migrated
        start(server, projects, bare_dir)
    samples: dict[str, list[Sample]] = {server: [] for server in servers}
    for round_ in range(runs):
        shift = round_ % len(servers)
        for server in servers[shift:] + servers[:shift]:
            samples[server].append(start(server, projects, bare_dir))
            wall, cpu, mb = samples[server][-1]
            print(f"round {round_ + 1}: {server}: {wall:.3f} s, CPU {cpu:.2f} s, {mb:.0f} MB",
                  file=sys.stderr)
    return {
        server: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values),
                 statistics.median(s[2] for s in values))
        for server, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="interleaved rounds")
    parser.add_argument("--default", type=Path, help="a rendered, synced project of the default answers")
    parser.add_argument("--no-db", type=Path, help="a rendered, synced project with database=none")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=PROJECT",
                        help="one more rendered, synced project in the same rounds (a build to compare)")
    args = parser.parse_args()
    projects = {
        "default": args.default or render(Path(tempfile.mkdtemp(prefix="shipshape-bench-")), {}),
        "no database": args.no_db
        or render(Path(tempfile.mkdtemp(prefix="shipshape-bench-")), {"database": "none"}),
    }
    projects |= {name: Path(path) for name, path in (also.split("=", 1) for also in args.also)}
    bare_dir = write_bare_app(Path(tempfile.mkdtemp(prefix="shipshape-bench-")))
    result = measure(projects, bare_dir, args.runs)
    bare_s, bare_cpu, bare_mb = result["bare"]
    print(f"\nstart to /readyz 200 (wall and CPU seconds) and idle RSS, median of {args.runs} "
          f"interleaved rounds, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    width = max(len(server) for server in result) + 2
    print(f"{'server':<{width}}{'start s':>9}{'vs bare':>9}{'CPU s':>8}{'vs bare':>9}{'RSS MB':>8}{'vs bare':>9}")
    for server, (seconds, cpu, mb) in result.items():
        print(f"{server:<{width}}{seconds:>9.3f}{seconds / bare_s:>8.2f}x{cpu:>8.2f}{cpu / bare_cpu:>8.2f}x"
              f"{mb:>8.0f}{mb / bare_mb:>8.2f}x")


if __name__ == "__main__":
    main()
