"""The messaging tables, on the service's one ``MetaData`` (migration 0003 creates them)."""

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table, Text

from ..db.tables import metadata

__all__ = ["item_totals", "outbox", "processed_events"]

# Events waiting for the relay (sent_at NULL) and, for a while, those it has published.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(300), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True, index=True),
)

# Events a consumer has applied: its effect and this row commit together, so a redelivered
# event finds its row and is skipped.
processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("handled_at", DateTime(timezone=True), nullable=False, index=True),
)

# The example consumer's effect: running totals of the quantity created per item name.
item_totals = Table(
    "item_totals",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
)
