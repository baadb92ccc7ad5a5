"""The async engine: PostgreSQL (asyncpg) from DATABASE_URL, else an embedded SQLite file."""

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..settings import Settings


def database_url(settings: Settings) -> URL:
    """The URL to connect to, with the async driver filled in."""
    if settings.database_url is None:
        return make_url(f"sqlite+aiosqlite:///{settings.sqlite_path}")
    url = make_url(settings.database_url.get_secret_value())
    if url.drivername in {"postgres", "postgresql"}:
        url = url.set(drivername="postgresql+asyncpg")
    elif url.drivername == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    return url


def is_embedded(url: URL) -> bool:
    """True for SQLite: a file inside the container, not shared by replicas."""
    return url.get_backend_name() == "sqlite"


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine with the pool settings; the lifespan disposes of it on shutdown."""
    url = database_url(settings)
    if is_embedded(url):
        engine = create_async_engine(
            url, connect_args={"timeout": settings.database_connect_timeout}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_recycle=settings.database_pool_recycle,
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.database_connect_timeout,
            "command_timeout": settings.database_command_timeout,
            "server_settings": {"application_name": settings.service_name},
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


async def ping(engine: AsyncEngine) -> None:
    """Run ``SELECT 1``; raises when the database cannot be reached (a readiness check)."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
