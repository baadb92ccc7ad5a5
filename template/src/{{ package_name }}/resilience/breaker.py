"""Circuit breakers over ``circuitbreaker``: typed, ``breaker.*`` events, one half-open trial."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import circuitbreaker

from .events import EVENTS, BreakerRejected, BreakerStateChanged, BreakerStateName, ResilienceEvents

_STATES: dict[str, BreakerStateName] = {
    circuitbreaker.STATE_CLOSED: "closed",
    circuitbreaker.STATE_OPEN: "open",
    circuitbreaker.STATE_HALF_OPEN: "half_open",
}


class BreakerOpenError(Exception):
    """Raised instead of calling a dependency whose breaker is open; callers fall back on it."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"circuit {name!r} is open; next trial call in {retry_in:.3g}s")
        self.name = name
        self.retry_in = retry_in


class Breaker:
    """A per-dependency breaker: opens after ``failure_threshold`` counted failures in a row."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        is_failure: Callable[[BaseException], bool] = lambda _: True,
        events: ResilienceEvents = EVENTS,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.name = name
        self.reset_timeout = reset_timeout
        self._is_failure = is_failure
        self._events = events
        self._impl: Any = circuitbreaker.CircuitBreaker(
            failure_threshold=failure_threshold,
            recovery_timeout=reset_timeout,
            expected_exception=lambda _type, exc: is_failure(exc),
            name=name,
        )
        self._reported: BreakerStateName = "closed"
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerStateName:
        """``closed``, ``open`` or ``half_open`` (open turns half-open once the timeout passes)."""
        return _STATES[self._impl.state]

    @property
    def failure_count(self) -> int:
        """Consecutive failures counted so far."""
        count: int = self._impl.failure_count
        return count

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 when not open)."""
        if self.state != "open":
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - time.monotonic())

    def check(self) -> None:
        """Raise ``BreakerOpenError`` now if a call would be refused (callers fail fast early)."""
        state = self.state
        if state == "open" or (state == "half_open" and self._trial_in_flight):
            self._events.publish(BreakerRejected(self.name))
            raise BreakerOpenError(self.name, self.retry_in())

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run the ``with`` block as one call through the breaker (cancellation counts nothing)."""
        self.check()
        trial = self.state == "half_open"
        if trial:
            self._trial_in_flight = True
            self._report("half_open")
        try:
            yield
        except Exception as exc:
            self._impl.__exit__(type(exc), exc, None)
            self._after_call(failed=self._is_failure(exc))
            raise
        else:
            self._impl.__exit__(None, None, None)
            self._after_call(failed=False)
        finally:
            if trial:
                self._trial_in_flight = False

    def _after_call(self, *, failed: bool) -> None:
        state = self.state
        if failed and state == "open":  # the library (re)starts its open period on each failure
            self._opened_at = time.monotonic()
        self._report(state)

    def _report(self, state: BreakerStateName) -> None:
        if state != self._reported:
            old, self._reported = self._reported, state
            self._events.publish(BreakerStateChanged(self.name, old, state, self.failure_count))
