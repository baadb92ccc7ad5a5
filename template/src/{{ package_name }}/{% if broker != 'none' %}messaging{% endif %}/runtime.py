"""The messaging lifespan: broker, relay and consumer started with the app, stopped with it."""

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..health import HealthRegistry
from ..models import Item
from ..settings import Settings
from .consumer import ItemTotalsConsumer
from .events import item_created
from .outbox import Outbox, Relay

if TYPE_CHECKING:
    from .broker import EventBus

__all__ = ["Messaging", "open_messaging"]

logger = structlog.get_logger(__name__)


@dataclass
class Messaging:
    """What the rest of the service uses: the outbox writer, and the bus once one is set."""

    settings: Settings
    outbox: Outbox
    bus: "EventBus | None" = None
    relay: Relay | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def item_created(self, conn: AsyncConnection, item: Item) -> None:
        """Write ``items.item.created`` in the transaction that stores ``item``."""
        await self.outbox.add(conn, item_created(item, source=self.settings.service_name))
        if self.relay is not None:
            self.relay.wake()

    async def check_backlog(self) -> None:
        """Raise when the oldest unpublished event has waited longer than OUTBOX_MAX_LAG."""
        backlog = await self.outbox.backlog()
        if backlog.oldest_age > self.settings.outbox_max_lag:
            raise RuntimeError(
                f"{backlog.pending} events waiting to be published, "
                f"the oldest for {backlog.oldest_age:.0f}s"
            )


async def _connect(bus: "EventBus", messaging: Messaging, settings: Settings) -> None:
    """Start the broker, retrying with backoff: the service serves while the broker is down."""
    failures = 0
    while True:
        try:
            async with asyncio.timeout(settings.broker_connect_timeout * 2):
                await bus.broker.start()
                await bus.declare()
        except Exception as exc:
            failures += 1
            jitter = random.uniform(0.5, 1.0)  # noqa: S311  # nosec B311: jitter, not security
            delay = min(10.0, 0.2 * 2 ** min(failures, 10)) * jitter
            logger.warning(
                "broker.connect_failed",
                error=f"{type(exc).__name__}: {exc}"[:300],
                retry_in_s=round(delay, 2),
            )
            with contextlib.suppress(Exception):
                await bus.broker.stop()
            await asyncio.sleep(delay)
            continue
        messaging.connected.set()
        logger.info("broker.connected", destination=bus.destination)
        return


async def _relay(relay: Relay, messaging: Messaging) -> None:
    """Relay once the broker is first connected (after that, the relay backs off by itself)."""
    await messaging.connected.wait()
    await relay.run()


@asynccontextmanager
async def open_messaging(
    settings: Settings, registry: HealthRegistry, engine: AsyncEngine
) -> AsyncIterator[Messaging]:
    """Run messaging for the app's lifetime; without BROKER_URL, events wait in the outbox."""
    messaging = Messaging(settings, Outbox(engine))
    if settings.broker_url is None:  # development: refused in production (see stores.py)
        logger.warning("messaging.no_broker", detail="BROKER_URL is not set: events wait")
        yield messaging
        return
    registry.register("outbox", messaging.check_backlog)
    from .broker import create_bus  # the broker client is imported only when configured

    bus = create_bus(settings)
    consumer = ItemTotalsConsumer(
        engine,
        bus.dead_letter,
        attempts=settings.consumer_max_attempts,
        wait_initial=settings.consumer_retry_wait,
        wait_max=settings.consumer_retry_wait_max,
    )
    bus.subscribe(consumer.name, consumer.handle)
    relay = Relay(
        engine,
        bus.publish,
        batch_size=settings.outbox_batch_size,
        interval=settings.outbox_poll_interval,
        publish_timeout=settings.broker_publish_timeout,
        retention=settings.outbox_retention,
    )
    messaging.bus, messaging.relay = bus, relay
    registry.register("broker", bus.ping)
    connecting = asyncio.create_task(_connect(bus, messaging, settings), name="broker-connect")
    relaying = asyncio.create_task(_relay(relay, messaging), name="outbox-relay")
    try:
        yield messaging
    finally:
        for task in (relaying, connecting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Stops consuming, lets in-flight handlers finish (BROKER_GRACEFUL_TIMEOUT), closes.
        await bus.broker.stop()
        logger.info("broker.stopped")
