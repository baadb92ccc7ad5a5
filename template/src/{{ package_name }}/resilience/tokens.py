"""OAuth2 client credentials (RFC 6749 4.4) for an upstream: a Bearer token, cached and renewed.

Hand-written on ``httpx.Auth``'s public flow rather than a library: the token request is sent
by the upstream's own client (its timeouts, spans, breaker and retries), which neither authlib's
client (it fetches from ``request()``, which ``http.py`` does not use) nor httpx-auth (a
blocking token fetch) does.
"""

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote_plus

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from .errors import UpstreamUnavailableError

__all__ = ["ClientCredentials", "ClientCredentialsAuth"]

# A token is renewed a tenth of its lifetime before it expires, at most a minute early.
_EARLY_FRACTION, _EARLY_MAX_S = 0.1, 60.0


@dataclass(frozen=True)
class ClientCredentials:
    """Where and how an upstream's token is fetched."""

    token_url: str
    client_id: str
    client_secret: SecretStr
    scopes: str | None = None
    client_auth: Literal["basic", "post"] = "basic"


class _TokenAnswer(BaseModel):
    access_token: str
    token_type: str
    expires_in: float | None = None  # absent: kept until the upstream answers 401


class ClientCredentialsAuth(httpx.Auth):
    """Sends ``Authorization: Bearer``: one token request at a time, one renewal on a 401."""

    def __init__(self, upstream: str, credentials: ClientCredentials, timeout: httpx.Timeout):
        self._upstream = upstream
        self._credentials = credentials
        self._timeout = timeout.as_dict()
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth({self._upstream!r})"  # never the token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Add the token; on a 401, renew it (unless a concurrent call did) and send once more."""
        refused: str | None = None
        for _ in range(2):
            async with self._lock:  # single flight: waiters find the token the first one got
                token = self._token
                if token is None or token == refused or time.monotonic() >= self._expires_at:
                    answer = yield self._token_request()
                    token = self._keep(await answer.aread(), answer.status_code)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != httpx.codes.UNAUTHORIZED:
                return
            refused = token

    def _token_request(self) -> httpx.Request:
        credentials = self._credentials
        secret = credentials.client_secret.get_secret_value()
        form = {"grant_type": "client_credentials"}
        if credentials.scopes:
            form["scope"] = credentials.scopes
        headers = {"Accept": "application/json"}
        if credentials.client_auth == "basic":  # each part form-encoded first (RFC 6749 2.3.1)
            pair = f"{quote_plus(credentials.client_id)}:{quote_plus(secret)}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        else:
            form |= {"client_id": credentials.client_id, "client_secret": secret}
        extensions = {"timeout": self._timeout}  # the upstream's (requests built here have none)
        return httpx.Request(
            "POST", credentials.token_url, data=form, headers=headers, extensions=extensions
        )

    def _keep(self, body: bytes, status: int) -> str:
        """The token from the endpoint's answer, cached; else the upstream is unavailable."""
        answer = None
        if status == httpx.codes.OK:
            with contextlib.suppress(ValidationError):  # its message would show the answer
                answer = _TokenAnswer.model_validate_json(body)
        if answer is None or answer.token_type.lower() != "bearer":
            problem = "sent no Bearer token" if status == httpx.codes.OK else f"answered {status}"
            raise UpstreamUnavailableError(self._upstream, f"token endpoint {problem}")
        lifetime = float("inf") if answer.expires_in is None else answer.expires_in
        early = min(lifetime * _EARLY_FRACTION, _EARLY_MAX_S)
        self._token, self._expires_at = answer.access_token, time.monotonic() + lifetime - early
        return answer.access_token
