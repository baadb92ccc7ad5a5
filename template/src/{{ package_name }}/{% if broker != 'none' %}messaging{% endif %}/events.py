"""The event envelope (CloudEvents 1.0 structured JSON) and the typed events it carries."""

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import propagate
from pydantic import BaseModel, ConfigDict, Field

from ..models import Item

__all__ = ["Envelope", "ItemCreated", "ItemCreatedEvent", "item_created", "trace_context"]


class Envelope(BaseModel):
    """One event: CloudEvents attributes, the typed payload and the W3C trace context.

    ``traceparent``/``tracestate`` follow the CloudEvents distributed-tracing extension: the
    trace of the request that caused the event continues through the relay and the consumer.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    subject: str | None = Field(default=None, max_length=200)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    data: Any
    traceparent: str | None = Field(default=None, max_length=55)
    tracestate: str | None = Field(default=None, max_length=512)

    def carrier(self) -> dict[str, str]:
        """The trace context as propagation headers (empty when the event was untraced)."""
        headers = {"traceparent": self.traceparent, "tracestate": self.tracestate}
        return {key: value for key, value in headers.items() if value}


class ItemCreated(BaseModel):
    """The data of ``items.item.created``: the item as stored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID
    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=0, le=1_000_000)


class ItemCreatedEvent(Envelope):
    """``items.item.created``: an item was stored (subject: the item's id)."""

    type: Literal["items.item.created"] = "items.item.created"
    data: ItemCreated


def item_created(item: Item, *, source: str) -> ItemCreatedEvent:
    """The event announcing a new ``item``, carrying the current trace context."""
    data = ItemCreated(id=item.id, name=item.name, quantity=item.quantity)
    return ItemCreatedEvent(source=source, subject=str(item.id), data=data, **trace_context())


def trace_context() -> dict[str, Any]:
    """The active span's W3C trace context (``traceparent``, ``tracestate``), if any."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {key: carrier[key] for key in ("traceparent", "tracestate") if key in carrier}
