"""Per-request cost of the Idempotency-Key middleware, per store, and the concurrency figures.

Usage: uv run python bench/idempotency_overhead.py [REQUESTS]

Renders the default answers (database=postgres, redis=yes), installs the project, then drives the
app in-process through ASGI (no HTTP server, so only the app's own work is measured) with the real
PostgreSQL and Redis on loopback (TEST_POSTGRES_URL / TEST_REDIS_URL override the defaults).
Every figure comes from the same run, side by side: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import copier

ROOT = Path(__file__).resolve().parent.parent

INNER = r'''
import asyncio, os, statistics, sys, time, uuid
from collections import Counter

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from orders_service.app import create_app
from orders_service.observability.logging import configure_logging
from orders_service.db.engine import create_engine
from orders_service.db.migrate import upgrade
from orders_service.settings import Settings

N = int(sys.argv[1])
ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def admin(sql):
    engine = create_async_engine(ADMIN, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def build(store, *, middleware=True, db_url):
    settings = Settings(_env_file=None, app_env="test", log_level="WARNING", database_url=db_url,
                        redis_url=REDIS, redis_key_prefix=f"bench:{uuid.uuid4().hex}:",
                        idempotency_store=store)
    app = create_app(settings)

    @app.post("/bench", status_code=201)
    async def bench(payload: dict[str, int]) -> dict[str, int]:
        return payload

    if not middleware:
        app.user_middleware = [m for m in app.user_middleware if m.cls.__name__ != "IdempotencyMiddleware"]
    return app


async def call(app, state, path, body, headers):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 1),
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *headers],
             "state": dict(state)}
    sent = False
    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
    status = 0
    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
    await app(scope, receive, send)
    return status


async def timed(app, state, path, header_for, expect):
    body = b'{"name": "bench", "quantity": 1}' if path == "/items" else b'{"a": 1}'
    for i in range(20):  # warm up
        await call(app, state, path, body, header_for(-i - 1))
    samples = []
    for i in range(N):
        started = time.perf_counter()
        status = await call(app, state, path, body, header_for(i))
        samples.append(time.perf_counter() - started)
        assert status == expect, status
    return statistics.median(samples) * 1e6


async def lifespan(app):
    cm = app.router.lifespan_context(app)
    state = await cm.__aenter__()
    return cm, state


async def main():
    configure_logging("WARNING", "json")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}"')
    db_url = ADMIN.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(Settings(_env_file=None, database_url=db_url))
    await upgrade(engine)
    await engine.dispose()
    none = lambda i: []
    unique = lambda i: [(b"idempotency-key", uuid.uuid4().hex.encode())]
    try:
        print(f"median latency per request, in-process ASGI, {N} requests each (microseconds)")
        for path in ("/bench", "/items"):
            bare = build("memory", middleware=False, db_url=db_url)
            cm, state = await lifespan(bare)
            base = await timed(bare, state, path, none, 201)
            await cm.__aexit__(None, None, None)
            print(f"\nPOST {path}: without the middleware {base:8.0f}")
            for store in ("memory", "redis", "database"):
                app = build(store, db_url=db_url)
                cm, state = await lifespan(app)
                nokey = await timed(app, state, path, none, 201)
                keyed = await timed(app, state, path, unique, 201)
                same = lambda i: [(b"idempotency-key", f"replay{path}{store}".encode())]
                replay = await timed(app, state, path, same, 201)
                await cm.__aexit__(None, None, None)
                if store == "memory":
                    print(f"  no key (pass-through)   {nokey:8.0f}  (+{nokey - base:.0f})")
                print(f"  new key, {store:9s}      {keyed:8.0f}  (+{keyed - base:.0f})"
                      f"   replay {replay:6.0f}")
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


asyncio.run(main())
'''


def main() -> None:
    requests = sys.argv[1] if len(sys.argv) > 1 else "500"
    project = Path(tempfile.mkdtemp()) / "svc"
    copier.run_copy(
        str(ROOT), project, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD"
    )
    subprocess.run(["uv", "sync", "--quiet", "--locked"], cwd=project, check=True)
    script = project / "bench_idempotency.py"
    script.write_text(INNER)
    subprocess.run(
        [str(project / ".venv" / "bin" / "python"), str(script), requests],
        cwd=project,
        check=True,
    )


if __name__ == "__main__":
    main()
