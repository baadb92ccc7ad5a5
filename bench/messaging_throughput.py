"""Events per second through the transactional outbox, the broker and the idempotent consumer.

Usage: uv run python bench/messaging_throughput.py [BROKER] [EVENTS]

BROKER is rabbitmq (default), redis or nats; EVENTS defaults to 2000. Renders the template
with database=postgres and that broker, installs the project, then in one process:

1. writes EVENTS items through the repository (item row + outbox event per transaction);
2. starts the messaging lifespan (relay + consumer) against the real broker on loopback and
   times until the relay has published every event, and until the consumer has applied all
   of them (one ``processed_events`` row and one ``item_totals`` update per event).

Uses a database and destination names of its own (TEST_POSTGRES_URL, TEST_BROKER_URL override
the loopback defaults) and removes them afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import copier

ROOT = Path(__file__).resolve().parent.parent

INNER = r'''
import asyncio, os, sys, time, uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from orders_service.db.engine import create_engine
from orders_service.db.items import SqlItemRepository
from orders_service.db.migrate import upgrade
from orders_service.health import HealthRegistry
from orders_service.messaging import open_messaging
from orders_service.messaging.outbox import Outbox
from orders_service.messaging.tables import processed_events
from orders_service.models import ItemCreate
from orders_service.observability.logging import configure_logging
from orders_service.settings import Settings
from tests.stores import BROKER_URL, delete_destinations

N = int(sys.argv[1])
ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def admin(sql):
    engine = create_async_engine(ADMIN, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def wait_for(check, timeout=300):
    deadline = time.perf_counter() + timeout
    while not await check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the events did not all arrive")
        await asyncio.sleep(0.02)
    return time.perf_counter()


async def main():
    configure_logging("WARNING", "json")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}"')
    settings = Settings(_env_file=None, app_env="test", log_level="WARNING",
                        database_url=ADMIN.rsplit("/", 1)[0] + "/" + name,
                        broker_url=BROKER_URL, broker_prefix=prefix)
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        messaging_off = Settings(**{**settings.model_dump(), "broker_url": None})
        async with open_messaging(messaging_off, HealthRegistry(), engine) as messaging:
            items = SqlItemRepository(engine, on_created=messaging.item_created)
            started = time.perf_counter()
            for start in range(0, N, 50):
                await asyncio.gather(*(items.add(ItemCreate(name=f"n{i % 20}", quantity=1))
                                       for i in range(start, min(N, start + 50))))
            written = time.perf_counter() - started
        outbox = Outbox(engine)

        async def relayed():
            return (await outbox.backlog()).pending == 0

        async def applied():
            async with engine.connect() as conn:
                count = (await conn.execute(select(func.count()).select_from(processed_events))).scalar_one()
            return count >= N

        async with open_messaging(settings, HealthRegistry(), engine) as messaging:
            await wait_for(lambda: asyncio.sleep(0, messaging.connected.is_set()), 30)
            started = time.perf_counter()
            published = await wait_for(relayed) - started
            consumed = await wait_for(applied) - started
        print(f"broker: {sys.argv[2]}, {N} events (item + outbox row per transaction, 50 writers)")
        print(f"  write items with their events   {N / written:8.0f} events/s")
        print(f"  relay: outbox -> broker          {N / published:8.0f} events/s")
        print(f"  end to end: outbox -> applied    {N / consumed:8.0f} events/s  ({consumed:.2f} s)")
    finally:
        await engine.dispose()
        await delete_destinations(prefix)
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


asyncio.run(main())
'''


def main() -> None:
    broker = sys.argv[1] if len(sys.argv) > 1 else "rabbitmq"
    events = sys.argv[2] if len(sys.argv) > 2 else "2000"
    project = Path(tempfile.mkdtemp()) / "svc"
    copier.run_copy(
        str(ROOT),
        project,
        data={"broker": broker, "redis": broker == "redis"},
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",
    )
    subprocess.run(["uv", "sync", "--quiet", "--locked"], cwd=project, check=True)
    script = project / "bench_messaging.py"
    script.write_text(INNER)
    subprocess.run(
        [str(project / ".venv" / "bin" / "python"), str(script), events, broker],
        cwd=project,
        check=True,
    )


if __name__ == "__main__":
    main()
