"""FastAPI dependencies, as ``Annotated`` aliases handlers can declare directly."""

from typing import Annotated

from fastapi import Depends, Request

from .health import HealthRegistry, Lifecycle
from .repository import ItemRepository
from .resilience.upstreams import Upstreams
from .settings import Settings, get_settings

__all__ = ["ItemsDep", "LifecycleDep", "RegistryDep", "SettingsDep", "UpstreamsDep"]


def _registry(request: Request) -> HealthRegistry:
    registry: HealthRegistry = request.app.state.health
    return registry


def _lifecycle(request: Request) -> Lifecycle:
    lifecycle: Lifecycle = request.app.state.lifecycle
    return lifecycle


def _items(request: Request) -> ItemRepository:
    items: ItemRepository = request.state.items
    return items


def _upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.state.upstreams
    return upstreams


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[HealthRegistry, Depends(_registry)]
LifecycleDep = Annotated[Lifecycle, Depends(_lifecycle)]
ItemsDep = Annotated[ItemRepository, Depends(_items)]
UpstreamsDep = Annotated[Upstreams, Depends(_upstreams)]
