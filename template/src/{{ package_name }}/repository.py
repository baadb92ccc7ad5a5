"""The ``ItemRepository`` protocol handlers depend on, and its in-memory implementation."""

import uuid
from datetime import UTC, datetime
from typing import Protocol

from .models import Item, ItemCreate


class ItemRepository(Protocol):
    """Storage of items."""

    async def add(self, data: ItemCreate) -> Item:
        """Store a new item and return it with its id."""

    async def get(self, item_id: uuid.UUID) -> Item | None:
        """The item with this id, or None."""

    async def list(self, *, limit: int, offset: int) -> tuple[list[Item], int]:
        """A page of items, oldest first, and the total count."""

    async def ping(self) -> None:
        """Raise if the store cannot serve requests (a readiness check)."""


class InMemoryItemRepository:
    """Items in a dict owned by the app's lifespan: lost on restart, not shared by replicas."""

    def __init__(self) -> None:
        self._items: dict[uuid.UUID, Item] = {}

    async def add(self, data: ItemCreate) -> Item:
        """Store a new item and return it with its id."""
        item = Item(id=uuid.uuid4(), created_at=datetime.now(UTC), **data.model_dump())
        self._items[item.id] = item
        return item

    async def get(self, item_id: uuid.UUID) -> Item | None:
        """The item with this id, or None."""
        return self._items.get(item_id)

    async def list(self, *, limit: int, offset: int) -> tuple[list[Item], int]:
        """A page of items, oldest first, and the total count."""
        ordered = list(self._items.values())
        return ordered[offset : offset + limit], len(ordered)

    async def ping(self) -> None:
        """Always ready: the store is this process's memory."""
