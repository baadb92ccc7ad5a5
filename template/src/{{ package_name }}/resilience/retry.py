"""Retry policy on stamina: exponential backoff with jitter, attempt and time caps.

Only what is safe is retried: connection errors, timeouts, and the statuses that say "try
again" (429, 502, 503, 504), waiting as long as ``Retry-After`` asks when it says so. A request
that is not idempotent (POST, PATCH) is never retried unless it carries an ``Idempotency-Key``.
Each scheduled retry is logged as ``stamina.retry_scheduled`` and counted (``events.py``).
"""

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

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "RetryableStatusError",
    "install_retry_hooks",
    "is_retry_safe",
    "parse_retry_after",
]

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class RetryableStatusError(Exception):
    """An upstream answered with a status that invites a retry (429, 502, 503, 504)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"upstream answered {response.status_code}")
        self.response = response
        self.retry_after = parse_retry_after(response.headers.get("retry-after"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date.

    Decimal seconds (``0.5``) are accepted too. Returns None when absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(0.0, seconds)
    return seconds if 0 <= seconds < float("inf") else None


def is_retry_safe(request: httpx.Request) -> bool:
    """True for idempotent methods, and for any request carrying an ``Idempotency-Key``."""
    return request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers


def _is_transient(exc: BaseException) -> bool:
    return isinstance(
        exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError | TimeoutError
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one logical call.

    Attributes:
        attempts: most attempts in all (1 = never retry).
        timeout: total seconds for all attempts and waits together; no retry starts after it.
        wait_initial: first backoff, seconds; each next one doubles up to ``wait_max``.
        wait_max: the longest backoff, seconds.
        wait_jitter: up to this many random seconds added to each backoff.
        retry_after_max: the longest ``Retry-After`` honoured; a longer one is not retried.
    """

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
        return _is_transient(exc)

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
            # The path only: query strings can carry tokens.
            path=request.url.path if request is not None else None,
        )
    )


def install_retry_hooks() -> None:
    """Route every stamina retry in the process through ``events.py`` (log line + counters).

    Replaces stamina's default hooks, so each retry is logged once, in our format.
    """
    set_on_retry_hooks([_publish_retry])
