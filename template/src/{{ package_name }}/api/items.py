"""The example resource: create, read and list items."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status

from ..deps import AUTH_ERRORS, READ_ITEMS, WRITE_ITEMS, ItemsDep, PageTotalsFlag
from ..idempotency import idempotency
from ..models import Item, ItemCreate, ItemPage
from ..problems import problem_responses

router = APIRouter(
    prefix="/items",
    tags=["items"],
    responses=problem_responses({422: "Invalid path, query or body", **AUTH_ERRORS}),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses({400: "Bad body", 413: "Body too large", 422: "Invalid item"}),
    openapi_extra=idempotency("optional"),
    dependencies=WRITE_ITEMS,
)
async def create_item(data: ItemCreate, items: ItemsDep, response: Response) -> Item:
    """Create an item; the Location header points at it."""
    item = await items.add(data)
    response.headers["Location"] = f"{router.prefix}/{item.id}"
    return item


@router.get(
    "/{item_id}", responses=problem_responses({404: "No such item"}), dependencies=READ_ITEMS
)
async def get_item(item_id: UUID, items: ItemsDep) -> Item:
    """Return one item by id."""
    item = await items.get(item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No item with id {item_id}.")
    return item


@router.get("", response_model_exclude_none=True, dependencies=READ_ITEMS)
async def list_items(
    items: ItemsDep,
    page_totals: PageTotalsFlag,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ItemPage:
    """List items, oldest first, a page at a time (with the page's quantity total when on)."""
    page, total = await items.list(limit=limit, offset=offset)
    result = ItemPage(items=page, total=total, limit=limit, offset=offset)
    if page_totals:  # released by the items-page-totals flag; off by default
        result.quantity_total = sum(item.quantity for item in page)
    return result
