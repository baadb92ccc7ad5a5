"""Events over a message broker (FastStream): envelope, outbox, relay and consumer.

State changes write their events to the ``outbox`` table in the same transaction; the relay
publishes them; the consumer applies each event's effect once, deduplicated by event id.
"""

from .events import Envelope, ItemCreated, ItemCreatedEvent
from .runtime import Messaging, open_messaging

__all__ = [
    "Envelope",
    "ItemCreated",
    "ItemCreatedEvent",
    "Messaging",
    "open_messaging",
]
