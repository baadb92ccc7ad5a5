"""The example consumer: applies ``items.item.created`` once per event id, whatever arrives.

Each event's effect and its ``processed_events`` row commit in one transaction, so a redelivered
event (a crash before the ack, a relay that published twice) is recognised and skipped. Handling
that fails is retried with backoff; a message that still fails, or cannot be read at all, goes to
the dead-letter destination and is acknowledged, so a poison message never blocks the queue.
Only an outage of the database itself leaves the message with the broker for redelivery.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import stamina
import structlog
from pydantic import ValidationError
from sqlalchemy import insert, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from .events import ItemCreatedEvent
from .tables import item_totals, processed_events

__all__ = ["DeadLetter", "ItemTotalsConsumer", "is_outage"]

logger = structlog.get_logger(__name__)

# Sends an unprocessable message body to the dead-letter destination with the reason.
DeadLetter = Callable[[Any, str], Awaitable[None]]


def is_outage(exc: BaseException) -> bool:
    """True when the database cannot be reached (leave the message for redelivery)."""
    if isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc.orig, OSError)
    )


class ItemTotalsConsumer:
    """Keeps ``item_totals`` (quantity created per item name) from ``items.item.created``."""

    name = "item-totals"

    def __init__(
        self,
        engine: AsyncEngine,
        dead_letter: DeadLetter,
        *,
        attempts: int = 5,
        wait_initial: float = 0.1,
        wait_max: float = 5.0,
    ) -> None:
        self._engine = engine
        self._dead_letter = dead_letter
        self._attempts = attempts
        self._wait_initial = wait_initial
        self._wait_max = wait_max

    async def handle(self, body: Any) -> None:
        """Handle one message body; returns once it is applied, skipped or dead-lettered."""
        try:
            envelope = ItemCreatedEvent.model_validate(body)
        except ValidationError as exc:
            await self._reject(body, f"not an item event: {exc.error_count()} validation errors")
            return
        log = logger.bind(event_id=envelope.id, event_type=envelope.type)
        try:
            async for attempt in stamina.retry_context(
                on=Exception,
                attempts=self._attempts,
                wait_initial=self._wait_initial,
                wait_max=self._wait_max,
            ):
                with attempt:
                    applied = await self.apply(envelope)
        except Exception as exc:
            if is_outage(exc):
                log.warning("event.handling_deferred", error=type(exc).__name__)
                raise  # the broker redelivers it once the database is back
            await self._reject(body, f"{type(exc).__name__}: {exc}"[:300], envelope.id)
            return
        log.info("event.handled" if applied else "event.duplicate", consumer=self.name)

    async def apply(self, envelope: ItemCreatedEvent) -> bool:
        """Apply the event's effect once; False when this event id was applied before."""
        data = envelope.data
        try:
            async with self._engine.begin() as conn:
                # First: a redelivery fails here (or waits here for the first delivery's commit).
                await conn.execute(
                    insert(processed_events).values(
                        consumer=self.name, event_id=envelope.id, handled_at=datetime.now(UTC)
                    )
                )
                result = await conn.execute(
                    update(item_totals)
                    .where(item_totals.c.name == data.name)
                    .values(
                        quantity=item_totals.c.quantity + data.quantity,
                        events=item_totals.c.events + 1,
                    )
                )
                if result.rowcount == 0:
                    await conn.execute(
                        insert(item_totals).values(name=data.name, quantity=data.quantity, events=1)
                    )
        except IntegrityError as exc:
            if processed_events.name in str(exc):
                return False
            raise  # another consumer created the same total first: retried
        return True

    async def _reject(self, body: Any, reason: str, event_id: str | None = None) -> None:
        logger.error("event.dead_lettered", consumer=self.name, event_id=event_id, reason=reason)
        await self._dead_letter(body, reason)
