"""FastAPI dependencies over ``app.state``, as ``Annotated`` aliases handlers declare."""

from typing import Annotated

from fastapi import Depends, Request

from .flags import BooleanFlag
from .repository import ItemRepository
from .resilience import Upstreams
from .settings import Settings


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _items(request: Request) -> ItemRepository:
    items: ItemRepository = request.app.state.items
    return items


async def _upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


SettingsDep = Annotated[Settings, Depends(_settings)]
ItemsDep = Annotated[ItemRepository, Depends(_items)]
UpstreamsDep = Annotated[Upstreams, Depends(_upstreams)]

# Feature flags (flags/flags.json); each alias names the flag and its default in the code.
PageTotalsFlag = Annotated[bool, Depends(BooleanFlag("items-page-totals", default=False))]
