"""The database as the service's store: items (and idempotency keys when chosen)."""

from collections.abc import Callable
from contextlib import AsyncExitStack

from sqlalchemy.ext.asyncio import AsyncEngine

from ..health import HealthRegistry
from ..settings import Settings
from .engine import create_engine, database_url, is_embedded, ping


def _migrate() -> int:
    from .migrate import main  # Alembic is imported only when it is needed

    return main()


DATABASE_COMMANDS: dict[str, Callable[[], int]] = {"migrate": _migrate}


def database_refusals(settings: Settings) -> list[str]:
    """What production cannot run on."""
    if is_embedded(database_url(settings)):
        return ["the database is an embedded SQLite file (set DATABASE_URL to PostgreSQL)"]
    return []


async def open_database(
    settings: Settings, stack: AsyncExitStack, registry: HealthRegistry
) -> AsyncEngine:
    """The engine, disposed of by ``stack``; an embedded database migrates itself first."""
    engine = create_engine(settings)
    stack.push_async_callback(engine.dispose)
    if is_embedded(engine.url):
        from .migrate import upgrade  # PostgreSQL is migrated by `python -m <package> migrate`

        await upgrade(engine)
    registry.register("database", lambda: ping(engine))
    return engine
