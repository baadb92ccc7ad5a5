"""Events over a message broker (FastStream): envelope, outbox, relay and consumer.

State changes write their events to the ``outbox`` table in the same transaction; the relay
publishes them; the consumer applies each event's effect once, deduplicated by event id.
"""

from collections.abc import Callable

from .events import Envelope, ItemCreated, ItemCreatedEvent
from .runtime import Messaging, open_messaging

__all__ = [
    "MESSAGING_COMMANDS",
    "Envelope",
    "ItemCreated",
    "ItemCreatedEvent",
    "Messaging",
    "open_messaging",
]


def _asyncapi() -> int:
    from .asyncapi import json_command

    return json_command()


def _asyncapi_html() -> int:
    from .asyncapi import html_command

    return html_command()


MESSAGING_COMMANDS: dict[str, Callable[[], int]] = {
    "asyncapi": _asyncapi,
    "asyncapi-html": _asyncapi_html,
}
