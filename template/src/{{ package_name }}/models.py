"""The example resource's API models."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ItemCreate(BaseModel):
    """What a client sends to create an item."""

    model_config = ConfigDict(extra="forbid")

    # Exactly as the OpenAPI document says (no stripping): 1-100 characters, one not blank.
    name: str = Field(min_length=1, max_length=100, pattern=r"\S", examples=["blue widget"])
    quantity: int = Field(default=1, ge=0, le=1_000_000)

    @field_validator("quantity", mode="before")
    @classmethod
    def _json_integer(cls, value: object) -> object:
        # Lax mode would read true/false and "3" as 1/0/3; JSON integers only (3 or 3.0).
        if isinstance(value, bool | str):
            raise ValueError("must be a JSON integer")
        return value


class Item(ItemCreate):
    """A stored item."""

    id: UUID
    created_at: datetime


class ItemPage(BaseModel):
    """One page of items, oldest first."""

    items: list[Item]
    total: int
    limit: int
    offset: int
    quantity_total: int | None = Field(
        default=None,
        description="Sum of the quantities on this page (while the items-page-totals flag is on).",
    )
