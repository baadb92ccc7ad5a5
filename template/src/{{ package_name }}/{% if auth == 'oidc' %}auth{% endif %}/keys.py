"""The issuer's signing keys: discovered, fetched through the resilient client, cached by kid."""

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jwt
import structlog

from ..health import CheckWarning

if TYPE_CHECKING:
    import httpx

    from ..resilience.http import Upstream

__all__ = ["KeySet"]

logger = structlog.get_logger(__name__)


class KeySet:
    """Keys by kid: fixed ones (the dev key) and the issuer's, refetched on an unknown kid."""

    def __init__(
        self,
        fixed: Mapping[str, tuple[jwt.PyJWK, str]],
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        upstream: "Upstream | None" = None,
        min_refresh: float = 60.0,
    ) -> None:
        self._fixed = dict(fixed)  # kid -> (key, the issuer it signs for)
        self._issuer, self._jwks_url, self._upstream = issuer, jwks_url, upstream
        self._fetched: dict[str, jwt.PyJWK] = {}
        self._min_refresh = min_refresh
        self._last_attempt = float("-inf")
        self._last_error: str | None = None
        self._lock = asyncio.Lock()

    def cached(self, kid: str) -> tuple[jwt.PyJWK, str] | None:
        """The key of ``kid`` and its issuer, if known now (no fetch)."""
        if (key := self._fetched.get(kid)) is not None and self._issuer is not None:
            return key, self._issuer
        return self._fixed.get(kid)

    async def get(self, kid: str) -> tuple[jwt.PyJWK, str] | None:
        """The key of ``kid``; an unknown kid refetches the JWKS, at most once per interval."""
        if (known := self.cached(kid)) is not None or self._upstream is None:
            return known
        async with self._lock:  # concurrent requests with a new kid: one fetch
            if (known := self.cached(kid)) is None:
                await self.refresh()
                known = self.cached(kid)
        return known

    async def refresh(self) -> None:
        """Fetch the JWKS unless fetched within the interval; a failure keeps the cached keys."""
        if self._upstream is None or time.monotonic() - self._last_attempt < self._min_refresh:
            return
        self._last_attempt = time.monotonic()
        try:
            keys = await self._fetch(self._upstream)
        except Exception as exc:  # the issuer down: cached keys keep working, new ones fail
            self._last_error = type(exc).__name__ + (f": {str(exc)[:200]}" if str(exc) else "")
            logger.warning("auth.jwks_fetch_failed", error=self._last_error)
            return
        self._fetched, self._last_error = keys, None
        logger.info("auth.jwks_fetched", keys=len(keys))

    async def _fetch(self, upstream: "Upstream") -> dict[str, jwt.PyJWK]:
        url = self._jwks_url
        if url is None:
            discovery = _json(await upstream.get("/.well-known/openid-configuration"))
            if discovery.get("issuer") != self._issuer:
                raise ValueError("the discovery document names another issuer")
            url = str(discovery["jwks_uri"])
        keys: dict[str, jwt.PyJWK] = {}
        for data in _json(await upstream.get(url)).get("keys", []):
            try:
                key = jwt.PyJWK.from_dict(data)
            except jwt.PyJWKError:
                continue  # a key of a type or algorithm this library cannot use
            if key.key_id and key.public_key_use in {None, "sig"}:
                keys[key.key_id] = key
        return keys

    async def check(self) -> Mapping[str, Any] | None:
        """Readiness: the issuer's keys are loaded (fetched now if none is); a warning if stale."""
        if self._upstream is None:
            return {"issuer": None, "keys": len(self._fixed)}
        if not self._fetched:
            await self.refresh()
        detail = {"issuer": self._issuer, "keys": len(self._fetched)}
        if not self._fetched:
            raise RuntimeError(f"no signing keys from {self._issuer}: {self._last_error}")
        if self._last_error is not None:
            raise CheckWarning(f"issuer unreachable ({self._last_error}); cached keys in use")
        return detail


def _json(response: "httpx.Response") -> dict[str, Any]:
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
