"""Retry policy on stamina: transient errors and 429/502/503/504 only, honouring Retry-After."""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import stamina
from stamina.instrumentation import RetryDetails, set_on_retry_hooks

from .events import EVENTS, RetryScheduled

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, TimeoutError)


class RetryableStatusError(Exception):
    """An upstream answered with a status that invites a retry (429, 502, 503, 504)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"upstream answered {response.status_code}")
        self.response = response
        self.retry_after = parse_retry_after(response.headers.get("retry-after"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds, decimals too, or an HTTP date)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if 0 <= seconds < float("inf") else None


def is_retry_safe(request: httpx.Request) -> bool:
    """True for idempotent methods, and for any request carrying an ``Idempotency-Key``."""
    return request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one logical call (``attempts`` 1 never retries)."""

    attempts: int = 3
    timeout: float = 5.0
    wait_initial: float = 0.1
    wait_max: float = 1.0
    wait_jitter: float = 0.1
    retry_after_max: float = 5.0

    def decide(self, exc: Exception, *, deadline: float | None = None) -> bool | float:
        """Whether to retry after ``exc``: False, True (backoff), or seconds to wait."""
        remaining = float("inf") if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return False
        if isinstance(exc, RetryableStatusError):
            wait = exc.retry_after
            if wait is None:
                return True
            return wait if wait <= min(self.retry_after_max, remaining) else False
        return isinstance(exc, TRANSIENT)

    async def call(
        self,
        fn: Callable[..., Awaitable[T]],
        /,
        *args: object,
        deadline: float | None = None,
        **kwargs: object,
    ) -> T:
        """Await ``fn(*args, **kwargs)``, retrying by this policy until ``deadline`` (monotonic)."""
        retrying = stamina.retry(
            on=lambda exc: self.decide(exc, deadline=deadline),
            attempts=self.attempts,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        )
        return await retrying(fn)(*args, **kwargs)


def _publish_retry(details: RetryDetails) -> None:
    request = next((a for a in details.args if isinstance(a, httpx.Request)), None)
    name = details.kwargs.get("upstream")
    EVENTS.publish(
        RetryScheduled(
            name=name if isinstance(name, str) else details.name,
            retry_num=details.retry_num,
            wait_s=details.wait_for,
            waited_so_far_s=details.waited_so_far,
            cause=type(details.caused_by).__name__,
            method=request.method if request is not None else None,
            path=request.url.path if request is not None else None,  # no query: it can hold tokens
        )
    )


def install_retry_hooks() -> None:
    """Route every stamina retry in the process through ``events.py`` (instead of its defaults)."""
    set_on_retry_hooks([_publish_retry])
