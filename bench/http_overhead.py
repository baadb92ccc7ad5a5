"""Throughput and latency of the generated service vs a bare FastAPI app, side by side.

Usage: uv run python bench/http_overhead.py [--seconds 8] [--rounds 3] [--connections 32] [--pin]

Renders the template with the default answers, installs it, and serves, one at a time on the
same uvicorn settings (one worker, uvloop, httptools):

- bare: a FastAPI app with the same GET route, response model and handler shape (the store
  reached through a dependency on the lifespan state), no middleware, no logs;
- service variants: the generated service's GET /items/{id} with JSON access logs, metrics
  and tracing (OTLP/HTTP to a local sink process) at 100% and 10% sampling, and with tracing off;
- DIY variants: the bare app with the stack a team writes from the official docs:
  FastAPIInstrumentor (opentelemetry-instrumentation-fastapi), the SDK's TracerProvider and
  BatchSpanProcessor with the official OTLP/HTTP exporter to the same sink,
  prometheus-fastapi-instrumentator, and a structlog JSON access line from an
  ``@app.middleware("http")``, at 100% and 10% sampling. They run from a venv of their own
  (``diy-venv``: the service's locked versions plus those two packages), so the service's venv
  holds nothing it does not ship with.

By default the service is rendered without a database (``--database none``: items in memory, like
the bare app), so the ratios measure the middleware, logging, metrics and tracing alone;
``--database sqlite`` renders the default answers, whose example GET reads the embedded SQLite
file (no DATABASE_URL), and then measures mostly the database round trip.

Load comes from wrk (Debian package `wrk`) in another process. Rounds are interleaved so that
machine noise hits every variant alike, and each round starts one variant later than the one
before, so no variant always runs in the same place; the table gives the median over rounds and
the ratio to bare, then the ratio to bare within each round (median and range), which separates
the machine's drift from the service's cost. Needs: uv, wrk, git.

``--log-pipe`` sends each server's logs into a pipe that ``cat`` reads, as a container runtime
reads a service's standard output, instead of to /dev/null; writing to a pipe costs the
writer more, so this is the access log's cost as deployed.

The default variants are bare, service 100%, service 10%, DIY 100%, DIY 10%; the last table
gives the service's throughput over the DIY stack's at the same sampling, round by round.

``--variants`` picks and orders the variants; the first is the baseline of every ratio. One
more bare variant is run only when named: ``"bare: FastAPI telemetry off"``, FastAPI with its
built-in OpenTelemetry layer switched off, as the service runs it. On by default, that layer
checks for providers on every request (about 5 us of a bare request's 56 us, measured in
process); name it first to read the service's ratios against it.

``--pin`` runs each server on the last CPU and wrk and the OTLP sink on the others (taskset).
Unpinned, the sink's work on each export batch competes with the server for its core, which a
service does not meet in production (its collector runs elsewhere) and which shows in the
traced variants' p99; pinned, each server has a core to itself, the bare app included.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import copier
import httpx
from plumbum import local

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "orders_service"
PREFIX = PACKAGE.upper() + "_"

BARE_APP = textwrap.dedent(
    '''
    import os
    import uuid
    from contextlib import asynccontextmanager
    from datetime import UTC, datetime
    from typing import Annotated

    from fastapi import Depends, FastAPI, HTTPException, Request
    from pydantic import BaseModel

    class Item(BaseModel):
        id: uuid.UUID
        name: str
        quantity: int
        created_at: datetime

    ITEMS: dict[uuid.UUID, Item] = {}

    @asynccontextmanager
    async def lifespan(app):
        yield {"items": ITEMS}

    # The handler has the service's shape: the store comes from the lifespan state through a
    # dependency, so the ratio measures what the service adds around the same handler.
    async def _items(request: Request) -> dict[uuid.UUID, Item]:
        items: dict[uuid.UUID, Item] = request.state.items
        return items

    ItemsDep = Annotated[dict[uuid.UUID, Item], Depends(_items)]
    # FastAPI's defaults, unless the variant switches off its built-in OpenTelemetry layer
    # (which, on by default, checks for providers on every request), as the service does.
    options = {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    app = FastAPI(lifespan=lifespan, **(options if os.environ.get("BENCH_BARE_TELEMETRY_OFF") else {}))

    @app.post("/items", status_code=201)
    async def create(data: dict[str, object], items: ItemsDep) -> Item:
        item = Item(id=uuid.uuid4(), created_at=datetime.now(UTC), name=str(data["name"]), quantity=1)
        items[item.id] = item
        return item

    @app.get("/items/{item_id}")
    async def get(item_id: uuid.UUID, items: ItemsDep) -> Item:
        if item_id not in items:
            raise HTTPException(404)
        return items[item_id]
    '''
)

# The DIY stack, added to the bare app as the official docs show each piece.
DIY_TAIL = textwrap.dedent(
    '''
    import time

    import structlog
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from prometheus_fastapi_instrumentator import Instrumentator

    provider = TracerProvider(resource=Resource.create({"service.name": "diy"}))  # OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # OTEL_EXPORTER_OTLP_*
    trace.set_tracer_provider(provider)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        cache_logger_on_first_use=True,
    )
    access = structlog.get_logger("access")

    @app.middleware("http")
    async def access_log(request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        span = trace.get_current_span().get_span_context()
        route = request.scope.get("route")
        access.info(
            "http.request", method=request.method, route=getattr(route, "path", request.url.path),
            status=response.status_code, duration_ms=round((time.perf_counter() - started) * 1000, 3),
            trace_id=format(span.trace_id, "032x"), span_id=format(span.span_id, "016x"),
        )
        return response

    Instrumentator().instrument(app).expose(app)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="metrics")
    '''
)
DIY_PACKAGES = ("opentelemetry-instrumentation-fastapi", "prometheus-fastapi-instrumentator")

SINK = textwrap.dedent(
    '''
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a collector does

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
    '''
)


# wrk script for the example idempotent POST: a new Idempotency-Key (a quoted string, as the
# header's structured-field syntax wants) on every request, so each one is an original.
POST_LUA = textwrap.dedent(
    '''
    local counter = 0
    local run = tostring(math.random(1, 1000000000))
    wrk.method = "POST"
    wrk.body = '{"name": "bench"}'
    wrk.headers["Content-Type"] = "application/json"
    request = function()
        counter = counter + 1
        wrk.headers["Idempotency-Key"] = '"bench-' .. run .. '-' .. counter .. '"'
        return wrk.format(nil, "/items")
    end
    '''
)


# The bare app's variants: FastAPI's defaults (the baseline of every ratio), and not run unless
# named in --variants, FastAPI with its built-in telemetry off, as the service runs it.
BARE_VARIANTS: dict[str, dict[str, str]] = {
    "bare": {},
    "bare: FastAPI telemetry off": {"BENCH_BARE_TELEMETRY_OFF": "1"},
}

# What each service variant sets. (Until 2026-11-27 the tracing-off variant was picked by a
# name that never matched, so the rows printed as "tracing off" ran at 10% sampling.)
_RATIO = "parentbased_traceidratio"
SERVICE_VARIANTS: dict[str, dict[str, str]] = {
    "service: tracing off": {"OTEL_SDK_DISABLED": "true"},
    "service: 100% sampled": {"OTEL_TRACES_SAMPLER": _RATIO, "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    "service: 10% sampled": {"OTEL_TRACES_SAMPLER": _RATIO, "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}
DIY_VARIANTS: dict[str, dict[str, str]] = {
    "diy: 100% sampled": SERVICE_VARIANTS["service: 100% sampled"],
    "diy: 10% sampled": SERVICE_VARIANTS["service: 10% sampled"],
}
DEFAULT_VARIANTS = ["bare", "service: 100% sampled", "service: 10% sampled", *DIY_VARIANTS]


def refuse_unknown_variants(parser: argparse.ArgumentParser, variants: list[str], known: list[str]) -> None:
    """Exit with a usage error naming any of ``variants`` not in ``known`` (before rendering:
    a typo should not cost a minute)."""
    unknown = [variant for variant in variants if variant not in known]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}: use names from {known}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(workdir: Path, database: str) -> Path:
    local.env["PATH"] = f"{Path(sys.executable).parent}:{local.env.get('PATH', '')}"
    project = workdir / "svc"
    data = {"database": "none"} if database == "none" else {}
    copier.run_copy(str(ROOT), project, data=data, defaults=True, unsafe=True, quiet=True)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    uv = str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "sync", "--quiet", "--no-dev"], cwd=project, check=True, env=env)
    (workdir / "bare_app.py").write_text(BARE_APP)
    return project


def install_diy(workdir: Path, project: Path) -> Path:
    """A venv for the DIY app: the service's locked versions plus the DIY packages; its python."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    uv = str(Path(sys.executable).parent / "uv")
    venv = workdir / "diy-venv"
    locked = subprocess.run(
        [uv, "export", "--quiet", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
        cwd=project, check=True, env=env, capture_output=True, text=True,
    ).stdout
    instrumentation = re.search(r"^opentelemetry-instrumentation==(\S+)", locked, re.MULTILINE)
    pins = [f"{DIY_PACKAGES[0]}=={instrumentation.group(1)}" if instrumentation else DIY_PACKAGES[0]]
    (workdir / "diy-requirements.txt").write_text(locked)
    python = str(project / ".venv" / "bin" / "python")
    subprocess.run([uv, "venv", "--quiet", "--python", python, str(venv)], check=True, env=env)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
         "-r", str(workdir / "diy-requirements.txt"), *pins, DIY_PACKAGES[1]],
        check=True, env=env,
    )
    (workdir / "diy_app.py").write_text(BARE_APP + DIY_TAIL)
    return venv / "bin" / "python"


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} never answered")


def run_wrk(
    url: str, seconds: int, connections: int, script: Path | None = None, prefix: list[str] | None = None
) -> dict[str, float]:
    """wrk against ``url`` (with a Lua ``script`` if given): req/s, p50 and p99 in ms."""
    extra = ["-s", str(script)] if script is not None else []
    out = subprocess.run(
        [*(prefix or []), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
        check=True, capture_output=True, text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} non-2xx responses")

    def pct(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "p50": pct("50"), "p99": pct("99")}


def serve(
    variant: str, project: Path, workdir: Path, sink_port: int, extra_env: dict[str, str] | None = None,
    prefix: list[str] | None = None, ready_timeout: float = 20, log_reader: list[str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start one variant (its command after ``prefix``); return the process and an item's URL.

    Its standard output and error go to /dev/null, or with ``log_reader`` (a command, such as
    ``["cat"]``) into a pipe that command reads, as a container runtime reads a service's logs.
    """
    port = free_port()
    python = str(project / ".venv" / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    if variant in BARE_VARIANTS or variant in DIY_VARIANTS:
        diy = variant in DIY_VARIANTS
        env.update(DIY_VARIANTS[variant] if diy else BARE_VARIANTS[variant])
        if diy:
            python = str(workdir / "diy-venv" / "bin" / "python")
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
        cmd = [python, "-m", "uvicorn", f"{'diy' if diy else 'bare'}_app:app", "--port", str(port),
               "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
        cwd = workdir
    else:
        cmd = [python, "-m", PACKAGE]
        cwd = project
        env.update({
            f"{PREFIX}PORT": str(port),
            "OTEL_SERVICE_NAME": "bench",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        })
        if variant not in SERVICE_VARIANTS:
            raise SystemExit(f"unknown variant {variant!r}: use one of {[*BARE_VARIANTS, *SERVICE_VARIANTS, *DIY_VARIANTS]}")
        env.update(SERVICE_VARIANTS[variant])
        env.update(extra_env or {})
    output = subprocess.PIPE if log_reader else subprocess.DEVNULL
    process = subprocess.Popen(
        [*(prefix or []), *cmd], cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
    )
    if log_reader and process.stdout is not None:
        subprocess.Popen(log_reader, stdin=process.stdout, stdout=subprocess.DEVNULL)  # ends with it
        process.stdout.close()
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/items/00000000-0000-0000-0000-000000000000", process, ready_timeout)
    item = httpx.post(f"{base}/items", json={"name": "bench"}, timeout=ready_timeout).json()
    return process, f"{base}/items/{item['id']}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", choices=["none", "sqlite"], default="none")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    parser.add_argument("--pin", action="store_true",
                        help="server on the last CPU, wrk and the OTLP sink on the others (taskset)")
    parser.add_argument("--log-pipe", action="store_true",
                        help="servers write their logs into a pipe read by cat, not to /dev/null")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    server_cpus = load_cpus = None
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2 or not shutil.which("taskset"):
            sys.exit("--pin needs two CPUs and taskset (Debian package util-linux)")
        server_cpus = ["taskset", "-c", str(cpus[-1])]
        load_cpus = ["taskset", "-c", ",".join(map(str, cpus[:-1]))]
    variants = args.variants.split(",")
    refuse_unknown_variants(parser, variants, [*BARE_VARIANTS, *SERVICE_VARIANTS, *DIY_VARIANTS])
    workdir = Path(tempfile.mkdtemp())
    project = render(workdir, args.database)
    if any(variant in DIY_VARIANTS for variant in variants):
        install_diy(workdir, project)
    sink_port = free_port()
    sink = subprocess.Popen([*(load_cpus or []), sys.executable, "-c", SINK, str(sink_port)])
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    try:
        for round_ in range(args.rounds):
            # Each round starts one variant later: a variant's place in the round (right after
            # a 100% sampled run, say) then biases no variant more than another.
            shift = round_ % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                reader = [*(load_cpus or []), "cat"] if args.log_pipe else None
                process, url = serve(
                    variant, project, workdir, sink_port, prefix=server_cpus, log_reader=reader
                )
                try:
                    run_wrk(url, 2, args.connections, prefix=load_cpus)  # warm-up
                    results[variant].append(
                        run_wrk(url, args.seconds, args.connections, prefix=load_cpus)
                    )
                finally:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=30)
                print(f"round {round_ + 1}: {variant}: {results[variant][-1]}", file=sys.stderr)
    finally:
        sink.terminate()
    med = {v: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")} for v, rs in results.items()}
    bare = med[variants[0]]
    pinned = f", server pinned: {server_cpus[-1]}, load: {load_cpus[-1]}" if server_cpus and load_cpus else ""
    logs = ", logs into a pipe" if args.log_pipe else ""
    print(f"\nGET /items/{{id}} (database: {args.database}), {args.connections} connections, {args.seconds}s x {args.rounds} rounds (median), cpus={os.cpu_count()}{pinned}{logs}")
    print(f"{'variant':<30}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'req/s vs bare':>15}{'p99 vs bare':>13}")
    for variant in variants:
        m = med[variant]
        print(f"{variant:<30}{m['rps']:>9.0f}{m['p50']:>9.2f}{m['p99']:>9.2f}"
              f"{m['rps'] / bare['rps']:>14.2f}x{m['p99'] / bare['p99']:>12.2f}x")
    # The machine's speed drifts between rounds; a round's variants run back to back, so the
    # ratio within each round shows how much of the spread is drift and how much is the service.
    print(f"\nratio to bare within each round: median [min-max] over {args.rounds} rounds")
    print(f"{'variant':<30}{'req/s':>22}{'p99':>22}")
    for variant in variants[1:]:
        cells = []
        for key in ("rps", "p99"):
            ratios = sorted(r[key] / b[key] for r, b in zip(results[variant], results[variants[0]]))
            cells.append(f"{statistics.median(ratios):.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}]")
        print(f"{variant:<30}{cells[0]:>22}{cells[1]:>22}")
    # The service against the DIY stack at the same sampling (target: >= 3x), round by round.
    pairs = [(f"service: {s}", f"diy: {s}") for s in ("100% sampled", "10% sampled")]
    pairs = [(a, b) for a, b in pairs if a in results and b in results]
    if pairs:
        print(f"\nservice req/s over DIY req/s, same sampling: median [min-max] over {args.rounds} rounds")
        for service, diy in pairs:
            ratios = sorted(r["rps"] / d["rps"] for r, d in zip(results[service], results[diy]))
            print(f"{service + ' / diy':<30}{statistics.median(ratios):>14.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}]")


if __name__ == "__main__":
    main()
