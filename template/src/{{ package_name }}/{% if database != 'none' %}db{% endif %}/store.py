"""The database as the service's store: items (and idempotency keys when chosen)."""

import ast
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ..health import HealthRegistry
from ..settings import Settings
from .engine import create_engine, database_url, is_embedded, ping

VERSIONS = Path(__file__).with_name("migrations") / "versions"


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
    # PostgreSQL is migrated by `python -m <package> migrate`. Alembic takes ~0.1 s to import:
    # only when the embedded file is not at the scripts' heads.
    if is_embedded(engine.url) and not await _at_heads(engine, script_heads()):
        from .migrate import upgrade

        await upgrade(engine)
    registry.register("database", lambda: ping(engine))
    return engine


def script_heads() -> frozenset[str]:
    """The heads of ``migrations/versions/``, read from the scripts' text, without Alembic.

    Empty (unknown: Alembic decides) when a script does not give ``revision`` as a literal.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        if script.name == "__init__.py":
            continue
        values: dict[str, ast.expr] = {}
        try:
            for node in ast.parse(script.read_text()).body:
                if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    values |= {t.id: node.value for t in targets if isinstance(t, ast.Name)}
            revisions.add(ast.literal_eval(values["revision"]))
            down = ast.literal_eval(values.get("down_revision", ast.Constant(None)))
        except (OSError, SyntaxError, KeyError, ValueError):
            return frozenset()
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _revisions(connection: Connection) -> set[str]:
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


async def _at_heads(engine: AsyncEngine, heads: frozenset[str]) -> bool:
    """True when the database's Alembic revisions are ``heads`` (False when heads are unknown)."""
    if not heads:
        return False
    async with engine.connect() as conn:
        return await conn.run_sync(_revisions) == heads
