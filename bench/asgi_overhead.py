"""CPU time a request of the generated service's ASGI app vs a bare FastAPI app, in-process.

Usage: uv run python bench/asgi_overhead.py [--requests 20000] [--rounds 5] [--log-pipe]

The same apps and variants as ``bench/http_overhead.py`` (bare; the service with tracing off,
100% and 10% sampled, exporting over OTLP/HTTP to a local sink), but with no server, socket or
load generator: each variant runs in its own process of the rendered project's venv, which
calls the ASGI app directly from 32 tasks on uvloop, each sending the example GET, then
yielding to the loop, so that a turn of the loop serves about 32 requests, as a loaded server's
does. The service is set up as ``serve`` sets it up (JSON access lines written once a turn;
the collector frozen and its threshold raised). Its logs go to /dev/null, or with
``--log-pipe`` into a pipe that ``cat`` reads, as a container runtime reads them. It prints the median CPU time a
request (user and system, of the whole process) over rounds, and the ratio to bare, read like
a throughput ratio (bare / variant), overall and within each round.

Why: on a 2-core VM, wrk shares the cores with the server and its req/s moves 20-30% between
rounds; ``http_instructions.py`` is repeatable but counts instructions, not time, and the
edge's instructions have cost more time each than the bare app's. This measures time without
the load generator, so it shows the application's own cost a request, uvicorn's protocol
excepted. Needs: uv, git.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from http_overhead import (
    BARE_VARIANTS,
    PACKAGE,
    SERVICE_VARIANTS,
    SINK,
    free_port,
    refuse_unknown_variants,
    render,
)

DRIVER = textwrap.dedent(
    """
    import asyncio, gc, json, os, resource, sys

    variant, requests = sys.argv[1], int(sys.argv[2])
    if variant == "bare":
        from bare_app import app
        provider = None
    else:
        from PACKAGE.__main__ import GC_YOUNG_THRESHOLD
        from PACKAGE.app import create_app
        from PACKAGE.observability.logging import configure_logging
        from PACKAGE.observability.tracing import configure_tracing, shutdown_tracing
        from PACKAGE.settings import get_settings

        settings = get_settings()
        if os.environ.get("BENCH_LOG_PIPE"):  # a pipe that cat reads, as a container runtime
            import subprocess

            reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
            sink = reader.stdin
        else:
            sink = open(os.devnull, "wb")
        configure_logging(
            settings.log_level, "json", sink, cache_loggers=True,
            per_turn_writes=not os.environ.get("BENCH_WRITE_EACH_LINE"),
        )
        app = create_app(settings)
        provider = configure_tracing(
            service_name="bench", service_version="1", environment="bench"
        )
    import uvloop

    HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"asgi-bench")]

    async def call(state, method, path, body=b""):
        headers = HEADERS if not body else [
            *HEADERS,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": method, "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": headers, "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000), "state": state.copy(),
        }
        sent = []
        given = False

        async def receive():
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never goes away

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)
        status = sent[0]["status"]
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status}")
        return b"".join(m.get("body", b"") for m in sent[1:])

    async def main():
        async with app.router.lifespan_context(app) as state:
            state = dict(state or {})
            item = json.loads(await call(state, "POST", "/items", b'{"name": "bench"}'))
            path = "/items/" + item["id"]

            async def worker(count):
                for _ in range(count):
                    await call(state, "GET", path)
                    await asyncio.sleep(0)  # let the other tasks have this turn

            await asyncio.gather(*(worker(100) for _ in range(32)))  # warm-up
            if variant != "bare":  # as serve() does
                gc.collect()
                gc.freeze()
                gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
            per_task = requests // 32
            before = resource.getrusage(resource.RUSAGE_SELF)
            await asyncio.gather(*(worker(per_task) for _ in range(32)))
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(cpu / (per_task * 32) * 1e6)

    uvloop.run(main())
    if provider is not None:
        shutdown_tracing(provider)
    """
).replace("PACKAGE", PACKAGE)


# Not run unless named in --variants: the service writing each access line as it is logged,
# as it did before it wrote a loop turn's lines together.
EXTRA_VARIANTS = {
    "service: tracing off (a write a line)": {"OTEL_SDK_DISABLED": "true", "BENCH_WRITE_EACH_LINE": "1"},
}


def run(
    variant: str, project: Path, workdir: Path, sink_port: int, requests: int, log_pipe: bool
) -> float:
    """CPU microseconds a request for one variant, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PYTHONPATH"] = str(workdir)
    if log_pipe:
        env["BENCH_LOG_PIPE"] = "1"
    bare = variant in BARE_VARIANTS
    if bare:
        env.update(BARE_VARIANTS[variant])
    else:
        env.update({
            "OTEL_SERVICE_NAME": "bench",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            **{**SERVICE_VARIANTS, **EXTRA_VARIANTS}[variant],
        })
    python = str(project / ".venv" / "bin" / "python")
    out = subprocess.run(
        [python, str(workdir / "driver.py"), "bare" if bare else "service", str(requests)],
        cwd=project, env=env, check=True, capture_output=True, text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", choices=["none", "sqlite"], default="none")
    parser.add_argument("--variants", default=",".join(["bare", *SERVICE_VARIANTS]))
    parser.add_argument("--log-pipe", action="store_true",
                        help="the service writes its logs into a pipe read by cat, not /dev/null")
    args = parser.parse_args()
    variants = args.variants.split(",")
    refuse_unknown_variants(parser, variants, [*BARE_VARIANTS, *SERVICE_VARIANTS, *EXTRA_VARIANTS])
    workdir = Path(tempfile.mkdtemp())
    project = render(workdir, args.database)
    (workdir / "driver.py").write_text(DRIVER)
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)])
    results: dict[str, list[float]] = {v: [] for v in variants}
    try:
        for round_ in range(args.rounds):
            shift = round_ % len(variants)  # no variant always runs in the same place
            for variant in variants[shift:] + variants[:shift]:
                results[variant].append(
                    run(variant, project, workdir, sink_port, args.requests, args.log_pipe)
                )
                print(f"round {round_ + 1}: {variant}: {results[variant][-1]:.1f} us", file=sys.stderr)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait()
    bare = statistics.median(results[variants[0]])
    logs = "a pipe" if args.log_pipe else "/dev/null"
    print(f"\nGET /items/{{id}} in-process (database: {args.database}), {args.requests} requests x "
          f"{args.rounds} rounds, 32 tasks, logs to {logs}; CPU time a request (median)")
    print(f"{'variant':<30}{'us/request':>12}{'bare / variant':>16}{'within each round':>26}")
    for variant in variants:
        median = statistics.median(results[variant])
        ratios = sorted(b / v for b, v in zip(results[variants[0]], results[variant]))
        within = f"{statistics.median(ratios):.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}]"
        print(f"{variant:<30}{median:>12.1f}{bare / median:>15.2f}x{within:>26}")


if __name__ == "__main__":
    main()
