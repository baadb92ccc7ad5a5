"""The service's upstream clients (apart from ``http.py``: no upstream, no httpx import)."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..settings import Settings

if TYPE_CHECKING:
    from .http import Upstream, UpstreamConfig


class Upstreams:
    """Upstream clients by name: ``open()`` in the lifespan, ``aclose()`` when it ends."""

    def __init__(self, configs: "list[UpstreamConfig] | None" = None) -> None:
        self._configs = list(configs or [])
        self._clients: dict[str, Upstream] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> "Upstreams":
        """One upstream per configured URL (none when nothing is configured)."""
        if settings.upstream_stock_url is None:
            return cls()
        from .http import UpstreamConfig
        from .tokens import ClientCredentials

        url, required = str(settings.upstream_stock_url), settings.upstream_stock_required
        token: ClientCredentials | None = None
        token_url = settings.upstream_stock_token_url
        client_id, secret = settings.upstream_stock_client_id, settings.upstream_stock_client_secret
        if token_url and client_id and secret:  # all three or none (settings.py checks)
            token = ClientCredentials(
                str(token_url),
                client_id,
                secret,
                settings.upstream_stock_scopes,
                settings.upstream_stock_client_auth,
            )
        stock = UpstreamConfig.from_settings(settings, "stock", url, required=required, token=token)
        return cls([stock])

    def open(self) -> None:
        """Create a client (connection pool and breaker) for each configured upstream."""
        if self._configs:
            from . import http, retry

            retry.install_retry_hooks()
            self._clients = {config.name: http.Upstream(config) for config in self._configs}

    async def aclose(self) -> None:
        """Close every client."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()

    def get(self, name: str) -> "Upstream | None":
        """The open client for ``name``, or None when that upstream is not configured."""
        return self._clients.get(name)

    def __iter__(self) -> "Iterator[Upstream]":
        return iter(self._clients.values())
