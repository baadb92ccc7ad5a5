"""The example resource in the database."""

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import HTTPException, status
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..models import Item, ItemCreate
from .engine import ping
from .tables import items

logger = structlog.get_logger(__name__)

# Called inside the transaction that stores a new item (it commits or rolls back with it).
OnCreated = Callable[[AsyncConnection, Item], Awaitable[None]]


@contextmanager
def _available() -> Iterator[None]:
    """Turn a database outage into a 503 problem (readiness reports it too), never a 500."""
    try:
        yield
    except (DBAPIError, OSError, TimeoutError) as exc:
        if (
            isinstance(exc, DBAPIError)
            and not exc.connection_invalidated
            and not isinstance(exc.orig, OSError)
            and "connect" not in str(exc).lower()
        ):
            raise
        logger.warning("database.unavailable", error=type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The database is unavailable; retry later.",
            headers={"Retry-After": "1"},
        ) from exc


def _item(row: Any) -> Item:
    created_at: datetime = row.created_at
    if created_at.tzinfo is None:  # SQLite keeps no time zone; every value written is UTC
        created_at = created_at.replace(tzinfo=UTC)
    return Item(id=row.id, name=row.name, quantity=row.quantity, created_at=created_at)


class SqlItemRepository:
    """Items in the ``items`` table, shared by every replica."""

    def __init__(self, engine: AsyncEngine, *, on_created: OnCreated | None = None) -> None:
        self._engine = engine
        self._on_created = on_created

    async def add(self, data: ItemCreate) -> Item:
        """Store a new item and return it with its id."""
        item = Item(id=uuid.uuid4(), created_at=datetime.now(UTC), **data.model_dump())
        with _available():
            async with self._engine.begin() as conn:
                await conn.execute(items.insert().values(**item.model_dump()))
                if self._on_created is not None:  # e.g. an outbox event, in this transaction
                    await self._on_created(conn, item)
        return item

    async def get(self, item_id: uuid.UUID) -> Item | None:
        """The item with this id, or None."""
        with _available():
            async with self._engine.connect() as conn:
                row = (await conn.execute(select(items).where(items.c.id == item_id))).first()
        return None if row is None else _item(row)

    async def list(self, *, limit: int, offset: int) -> tuple[list[Item], int]:
        """A page of items, oldest first, and the total count."""
        page = select(items).order_by(items.c.created_at, items.c.id).limit(limit).offset(offset)
        with _available():
            async with self._engine.connect() as conn:
                total = (await conn.execute(select(func.count()).select_from(items))).scalar_one()
                rows = (await conn.execute(page)).all()
        return [_item(row) for row in rows], total

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        await ping(self._engine)
