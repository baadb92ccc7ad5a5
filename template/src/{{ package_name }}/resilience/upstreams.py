"""The service's upstream clients, built in the app's lifespan from settings.

Kept apart from ``http.py`` so that a service with no upstream configured never imports the
HTTP client or the retry machinery (faster start, smaller footprint).
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..health import HealthRegistry
from ..settings import Settings

if TYPE_CHECKING:
    from .http import Upstream, UpstreamConfig

__all__ = ["Upstreams"]


class Upstreams:
    """Upstream clients by name; closed by the lifespan that made them."""

    def __init__(self, configs: "list[UpstreamConfig] | None" = None) -> None:
        self._clients: dict[str, Upstream] = {}
        if configs:
            from . import http, retry  # only services that call out import httpx and stamina

            retry.install_retry_hooks()
            self._clients = {config.name: http.Upstream(config) for config in configs}

    @classmethod
    def from_settings(cls, settings: Settings) -> "Upstreams":
        """One client per configured upstream URL (none when nothing is configured)."""
        if settings.upstream_stock_url is None:
            return cls()
        from .http import UpstreamConfig  # only when an upstream is configured

        stock = UpstreamConfig.from_settings(
            settings,
            "stock",
            str(settings.upstream_stock_url),
            required=settings.upstream_stock_required,
        )
        return cls([stock])

    def get(self, name: str) -> "Upstream | None":
        """The client for ``name``, or None when that upstream is not configured."""
        return self._clients.get(name)

    def __iter__(self) -> "Iterator[Upstream]":
        return iter(self._clients.values())

    def register_readiness(self, registry: HealthRegistry) -> None:
        """Add each upstream's breaker to readiness as ``upstream:<name>``."""
        for upstream in self:
            check_name = f"upstream:{upstream.name}"
            if check_name not in registry.names():
                registry.register(check_name, upstream.readiness)

    async def aclose(self) -> None:
        """Close every client."""
        for client in self:
            await client.aclose()
