"""Alembic migrations, run in-process: ``python -m <package> migrate`` and the embedded start."""

import asyncio
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ..observability.logging import configure_logging
from ..settings import get_settings
from .engine import create_engine, database_url

logger = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """Alembic's configuration, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # New scripts get importable module names (r<revision>_<slug>.py), as mypy wants.
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    return config


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate up to ``revision``; a no-op when already there. Returns (before, after)."""
    async with engine.connect() as conn:
        before = await conn.run_sync(_revision)
        await conn.run_sync(_upgrade, revision)
        after = await conn.run_sync(_revision)
        await conn.commit()
    return before, after


async def _migrate() -> int:
    settings = get_settings()
    engine = create_engine(settings)
    database = database_url(settings).render_as_string(hide_password=True)
    try:
        before, after = await upgrade(engine)
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        logger.error("database.migrate_failed", database=database, error=error)
        return 1
    finally:
        await engine.dispose()
    event = "database.migrated" if before != after else "database.up_to_date"
    logger.info(event, database=database, from_revision=before, to_revision=after)
    return 0


def main() -> int:
    """``python -m <package> migrate``: bring the database to the latest revision."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return asyncio.run(_migrate())
