"""Outbound HTTP: one ``httpx.AsyncClient`` per upstream, with timeouts, retries and a breaker."""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from ..health import CheckWarning
from ..observability.tracing import instrument_httpx_client
from ..settings import Settings
from .breaker import Breaker
from .errors import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from .retry import RETRYABLE_STATUSES, TRANSIENT, RetryableStatusError, RetryPolicy, is_retry_safe
from .tokens import ClientCredentials, ClientCredentialsAuth

REQUEST_ID_HEADER = "X-Request-ID"
# Attempts end this much before the deadline, so the attempt (which the breaker counts) times out.
_ATTEMPT_MARGIN_S = 0.005


class _ServerError(Exception):
    """A 5xx that is not worth retrying, raised inside the breaker so that it counts."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"upstream answered {response.status_code}")
        self.response = response


def _is_upstream_failure(exc: BaseException) -> bool:
    """What the breaker counts: timeouts, connection failures, 5xx (not 4xx/429), no token."""
    if isinstance(exc, RetryableStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, (_ServerError, UpstreamError, *TRANSIENT))


@dataclass(frozen=True)
class UpstreamConfig:
    """Everything that shapes calls to one upstream."""

    name: str
    base_url: str
    connect_timeout: float = 1.0
    read_timeout: float = 2.0
    total_timeout: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    failure_threshold: int = 5
    reset_timeout: float = 30.0
    required: bool = False
    token: ClientCredentials | None = None  # OAuth2 client credentials; None: no token

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        name: str,
        base_url: str,
        *,
        required: bool = False,
        token: ClientCredentials | None = None,
    ) -> "UpstreamConfig":
        """The service-wide timeouts, retry and breaker settings applied to one upstream."""
        return cls(
            name=name,
            base_url=base_url,
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            total_timeout=settings.http_total_timeout,
            retry=RetryPolicy(
                attempts=settings.retry_attempts,
                timeout=settings.http_total_timeout,
                wait_initial=settings.retry_wait_initial,
                wait_max=settings.retry_wait_max,
                wait_jitter=settings.retry_wait_jitter,
                retry_after_max=settings.retry_after_max,
            ),
            failure_threshold=settings.breaker_failure_threshold,
            reset_timeout=settings.breaker_reset_timeout,
            required=required,
            token=token,
        )


class Upstream:
    """A client for one upstream service; use ``request`` or ``get``, then ``aclose``."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.name = config.name
        self.breaker = Breaker(
            config.name,
            failure_threshold=config.failure_threshold,
            reset_timeout=config.reset_timeout,
            is_failure=_is_upstream_failure,
        )
        timeout = httpx.Timeout(
            config.read_timeout, connect=config.connect_timeout, pool=config.connect_timeout
        )
        token = config.token
        auth = None if token is None else ClientCredentialsAuth(self.name, token, timeout)
        self._client = httpx.AsyncClient(
            base_url=config.base_url, timeout=timeout, auth=auth, follow_redirects=False
        )
        instrument_httpx_client(self._client)  # client spans, traceparent to the upstream

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send one logical request: the final response, or an ``UpstreamError`` / breaker error."""
        self.breaker.check()  # before any work: an open breaker costs microseconds
        request = self._client.build_request(method, url, headers=headers, **kwargs)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if isinstance(request_id, str) and REQUEST_ID_HEADER not in request.headers:
            request.headers[REQUEST_ID_HEADER] = request_id
        deadline = time.monotonic() + self.config.total_timeout

        async def attempt(request: httpx.Request, *, upstream: str) -> httpx.Response:
            remaining = deadline - time.monotonic() - _ATTEMPT_MARGIN_S
            if remaining <= 0:  # the budget is spent: no attempt, and nothing for the breaker
                raise TimeoutError
            with self.breaker.guard():
                async with asyncio.timeout(remaining):
                    response = await self._client.send(request)
                if response.status_code in RETRYABLE_STATUSES:
                    raise RetryableStatusError(response)
                if response.status_code >= 500:
                    raise _ServerError(response)
            return response

        try:
            async with asyncio.timeout(self.config.total_timeout):
                if is_retry_safe(request):
                    return await self.config.retry.call(
                        attempt, request, deadline=deadline, upstream=self.name
                    )
                return await attempt(request, upstream=self.name)
        except (RetryableStatusError, _ServerError) as exc:
            return exc.response
        except (TimeoutError, httpx.TimeoutException) as exc:
            detail = f"{type(exc).__name__} (budget {self.config.total_timeout:g}s)"
            raise UpstreamTimeoutError(self.name, detail) from exc
        except httpx.RequestError as exc:
            raise UpstreamUnavailableError(self.name, type(exc).__name__) from exc

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """``request("GET", url, ...)``."""
        return await self.request("GET", url, **kwargs)

    async def readiness(self) -> None:
        """Report the breaker (no call): failing for a ``required`` upstream, else a warning."""
        if self.breaker.state == "closed":
            return
        message = (
            f"circuit {self.breaker.state}, {self.breaker.failure_count} failures; "
            f"next trial in {self.breaker.retry_in():.1f}s"
        )
        if self.config.required:
            raise UpstreamError(self.name, message)
        raise CheckWarning(message + "; answering from fallback")

    @property
    def closed(self) -> bool:
        """True once ``aclose`` has run."""
        return self._client.is_closed

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
