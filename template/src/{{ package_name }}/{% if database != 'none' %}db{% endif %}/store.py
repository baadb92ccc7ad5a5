"""The database as the service's store: items (and idempotency keys when chosen)."""

from collections.abc import Callable
from contextlib import AsyncExitStack

from starlette.datastructures import State

from ..health import HealthRegistry
from ..idempotency.sql_store import SqlIdempotencyStore
from ..settings import Settings
from .engine import create_engine, database_url, is_embedded, ping
from .items import SqlItemRepository


def _migrate() -> int:
    from .migrate import main  # Alembic is imported only when it is needed

    return main()


COMMANDS: dict[str, Callable[[], int]] = {"migrate": _migrate}


def idempotency_store(settings: Settings) -> str:
    """The database can always keep idempotency keys."""
    return "database"


def refusals(settings: Settings) -> list[str]:
    """What production cannot run on."""
    if settings.app_env == "production" and is_embedded(database_url(settings)):
        return ["the database is an embedded SQLite file (set DATABASE_URL to PostgreSQL)"]
    return []


async def open_store(
    settings: Settings, stack: AsyncExitStack, registry: HealthRegistry, state: State
) -> None:
    """The engine, disposed of by ``stack``; an embedded database migrates itself first."""
    engine = create_engine(settings)
    stack.push_async_callback(engine.dispose)
    if is_embedded(engine.url):
        from .migrate import upgrade  # PostgreSQL is migrated by `python -m <package> migrate`

        await upgrade(engine)
    registry.register("database", lambda: ping(engine))
    state.engine, state.items = engine, SqlItemRepository(engine)
    if state.idempotency_backend == "database":
        state.idempotency = SqlIdempotencyStore(engine)
