"""Transactional outbox: events written with the state change, published later by the relay.

``Outbox.add`` runs inside the caller's transaction, so an event exists exactly when the state
change committed. ``Relay`` publishes pending events in order, marks them sent, backs off while
the broker is unreachable and never gives up: nothing is lost, delivery is at least once.
Several replicas can relay at once: on PostgreSQL each batch is claimed with
``FOR UPDATE SKIP LOCKED``. Batches go out in order; the events of one batch are published
concurrently, so a consumer must not rely on their order (the example's effect commutes).
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from opentelemetry import context, propagate
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .events import Envelope
from .tables import outbox

__all__ = ["Backlog", "Outbox", "Publish", "Relay"]

logger = structlog.get_logger(__name__)

# Publishes one event body; raises when the broker did not take it.
Publish = Callable[[dict[str, Any], str], Awaitable[None]]


@dataclass(frozen=True)
class Backlog:
    """Events not yet published, and the age of the oldest in seconds (0 when none)."""

    pending: int
    oldest_age: float


class Outbox:
    """The ``outbox`` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @staticmethod
    async def add(conn: AsyncConnection, envelope: Envelope) -> None:
        """Write ``envelope`` in the transaction ``conn`` is in (commits with the state change)."""
        await conn.execute(
            outbox.insert().values(
                event_id=envelope.id,
                event_type=envelope.type,
                body=envelope.model_dump_json(),
                created_at=datetime.now(UTC),
                attempts=0,
            )
        )

    async def backlog(self) -> Backlog:
        """How many events wait, and for how long the oldest has."""
        query = select(func.count(), func.min(outbox.c.created_at)).where(
            outbox.c.sent_at.is_(None)
        )
        async with self._engine.connect() as conn:
            pending, oldest = (await conn.execute(query)).one()
        if oldest is None:
            return Backlog(0, 0.0)
        if oldest.tzinfo is None:  # SQLite keeps no time zone; every value written is UTC
            oldest = oldest.replace(tzinfo=UTC)
        return Backlog(pending, max(0.0, (datetime.now(UTC) - oldest).total_seconds()))


class Relay:
    """Publishes pending outbox events, oldest first, until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        publish: Publish,
        *,
        batch_size: int = 100,
        interval: float = 0.5,
        backoff_max: float = 10.0,
        publish_timeout: float = 5.0,
        retention: float = 86400.0,
        concurrency: int = 16,
    ) -> None:
        self._engine = engine
        self._publish = publish
        self._batch_size = batch_size
        self._interval = interval
        self._backoff_max = backoff_max
        self._publish_timeout = publish_timeout
        self._retention = retention
        self._in_flight = asyncio.Semaphore(concurrency)  # publishes awaiting the broker
        self._wake = asyncio.Event()
        self._pruned_at = 0.0

    def wake(self) -> None:
        """Look for new events now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Relay forever: a batch at a time, backing off (with jitter) while publishing fails."""
        failures = 0
        while True:
            try:
                sent, failed = await self.relay_once()
                if not failed and sent < self._batch_size:
                    await self._prune()
            except Exception as exc:  # the database is down: keep going, the events are safe
                logger.warning("outbox.relay_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                sent, failed = 0, True
            if failed:
                failures += 1
                delay = min(self._backoff_max, self._interval * 2 ** min(failures, 16))
                jitter = random.uniform(0.5, 1.0)  # noqa: S311  # nosec B311: jitter, not security
                await asyncio.sleep(delay * jitter)
                continue
            failures = 0
            if sent >= self._batch_size:
                continue  # more are waiting
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
                await asyncio.sleep(0.005)  # let the writer's transaction commit
            except TimeoutError:
                pass
            self._wake.clear()

    async def relay_once(self) -> tuple[int, bool]:
        """Publish one batch; returns how many were sent and whether a publish failed."""
        pending = (
            select(outbox.c.seq, outbox.c.event_id, outbox.c.body)
            .where(outbox.c.sent_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(self._batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(pending)).all()
            # A batch is published concurrently (up to `concurrency` at once); batches in order.
            results = await asyncio.gather(
                *(self._send(row.event_id, row.body) for row in rows), return_exceptions=True
            )
            outcome = list(zip(rows, results, strict=True))
            sent = [row.seq for row, error in outcome if error is None]
            errors = [(row.seq, error) for row, error in outcome if error is not None]
            if errors:
                reason = f"{type(errors[0][1]).__name__}: {errors[0][1]}"[:300]
                logger.warning("outbox.publish_failed", events=len(errors), error=reason)
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.seq.in_([seq for seq, _ in errors]))
                    .values(attempts=outbox.c.attempts + 1, last_error=reason)
                )
            if sent:
                await conn.execute(
                    update(outbox).where(outbox.c.seq.in_(sent)).values(sent_at=datetime.now(UTC))
                )
        failed = bool(errors)
        if sent:
            logger.debug("outbox.relayed", events=len(sent))
        return len(sent), failed

    async def _send(self, event_id: str, body: str) -> None:
        """Publish one stored event inside the trace of the request that wrote it."""
        payload: dict[str, Any] = orjson.loads(body)
        carrier = {key: payload[key] for key in ("traceparent", "tracestate") if payload.get(key)}
        async with self._in_flight:
            token = context.attach(propagate.extract(carrier))
            try:
                async with asyncio.timeout(self._publish_timeout):
                    await self._publish(payload, event_id)
            finally:
                context.detach(token)

    async def _prune(self) -> None:
        """Delete events sent longer ago than the retention, at most once a minute."""
        now = time.monotonic()
        if now - self._pruned_at < 60:
            return
        self._pruned_at = now
        cutoff = datetime.now(UTC) - timedelta(seconds=self._retention)
        async with self._engine.begin() as conn:
            await conn.execute(delete(outbox).where(outbox.c.sent_at < cutoff))
