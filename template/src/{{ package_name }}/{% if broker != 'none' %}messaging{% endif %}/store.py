"""Messaging as one of the service's stores: each new item's event goes out through the outbox."""

from collections.abc import Callable
from contextlib import AsyncExitStack

from starlette.datastructures import State

from ..db.items import SqlItemRepository
from ..health import HealthRegistry
from ..settings import Settings
from .runtime import open_messaging


def _asyncapi() -> int:
    from .asyncapi import json_command

    return json_command()


def _asyncapi_html() -> int:
    from .asyncapi import html_command

    return html_command()


COMMANDS: dict[str, Callable[[], int]] = {"asyncapi": _asyncapi, "asyncapi-html": _asyncapi_html}


def idempotency_store(settings: Settings) -> None:
    """The broker keeps no idempotency keys."""


def refusals(settings: Settings) -> list[str]:
    """What production cannot run without."""
    if settings.app_env == "production" and settings.broker_url is None:
        return ["BROKER_URL is not set (events would wait in the outbox)"]
    return []


async def open_store(
    settings: Settings, stack: AsyncExitStack, registry: HealthRegistry, state: State
) -> None:
    """Events: written to the outbox with each change, relayed to the broker, consumed here."""
    messaging = await stack.enter_async_context(open_messaging(settings, registry, state.engine))
    state.messaging = messaging
    state.items = SqlItemRepository(state.engine, on_created=messaging.item_created)
