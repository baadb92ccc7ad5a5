"""FastAPI dependencies, as ``Annotated`` aliases handlers can declare directly."""

from typing import Annotated

from fastapi import Depends, Request

from .flags import BooleanFlag
from .health import HealthRegistry, Lifecycle
from .repository import ItemRepository
from .settings import Settings, get_settings

__all__ = ["ItemsDep", "LifecycleDep", "PageTotalsFlag", "RegistryDep", "SettingsDep"]


def _registry(request: Request) -> HealthRegistry:
    registry: HealthRegistry = request.app.state.health
    return registry


def _lifecycle(request: Request) -> Lifecycle:
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle


def _items(request: Request) -> ItemRepository:
    items: ItemRepository = request.state.items
    return items


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[HealthRegistry, Depends(_registry)]
LifecycleDep = Annotated[Lifecycle, Depends(_lifecycle)]
ItemsDep = Annotated[ItemRepository, Depends(_items)]

# Feature flags (flags/flags.json); each alias names the flag and its default in the code.
PageTotalsFlag = Annotated[bool, Depends(BooleanFlag("items-page-totals", default=False))]
