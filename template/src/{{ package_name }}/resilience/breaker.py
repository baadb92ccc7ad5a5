"""Circuit breakers behind our own small interface.

``Breaker`` is what the rest of the service uses; the state machine underneath comes from the
``circuitbreaker`` library and can be swapped without touching callers.

Why ``circuitbreaker`` (evaluated Nov 2026; see README "Resilience"):

- ``pybreaker`` counts failures of async callables only through Tornado;
- ``aiobreaker`` has had no release since 2021;
- ``purgatory`` (last release 2024-11) re-raises one exception instance while open, so its
  traceback grows by a frame chain on every rejected call (measured: 100,000 entries after
  20,000 rejections, a leak exactly when an upstream is down); it also times the open state
  with the wall clock and awaits a message bus on every call;
- ``circuitbreaker`` (2.1.3, 2025-03) is small, dependency-free, times with the monotonic
  clock and counts failures of coroutines. It has no type hints, no transition events and
  lets every caller through while half-open; this wrapper adds those three: typed methods,
  ``breaker.*`` events (see ``events.py``) and a single trial call while half-open.

State is per process (per replica), the norm in Resilience4j and Polly: each replica learns
about an upstream from its own calls.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import circuitbreaker

from .events import EVENTS, BreakerRejected, BreakerStateChanged, BreakerStateName, ResilienceEvents

__all__ = ["Breaker", "BreakerOpenError", "BreakerStateName"]

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


def _count_every_exception(_: BaseException) -> bool:
    return True


class Breaker:
    """A per-dependency circuit breaker.

    Closed: calls pass; ``failure_threshold`` failures in a row open it. Open: calls fail fast
    with ``BreakerOpenError`` for ``reset_timeout`` seconds. Half-open: one trial call passes
    (others still fail fast); its success closes the breaker, its failure opens it again.

    Args:
        name: the dependency's name, used in logs, events and readiness.
        failure_threshold: consecutive failures that open the breaker.
        reset_timeout: seconds the breaker stays open before allowing a trial call.
        is_failure: which exceptions count as the dependency failing (others pass through
            without changing the state, e.g. a 404 turned into an exception).
        events: where transitions are published (the process-wide ``EVENTS`` by default).
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        is_failure: Callable[[BaseException], bool] = _count_every_exception,
        events: ResilienceEvents = EVENTS,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.name = name
        self.failure_threshold = failure_threshold
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

    def snapshot(self) -> dict[str, Any]:
        """State for readiness detail and metrics."""
        return {
            "state": self.state,
            "failures": self.failure_count,
            "retry_in_s": round(self.retry_in(), 3),
        }

    def check(self) -> None:
        """Raise ``BreakerOpenError`` now if a call would be refused (callers fail fast early)."""
        state = self.state
        if state == "open" or (state == "half_open" and self._trial_in_flight):
            self._events.publish(BreakerRejected(self.name))
            raise BreakerOpenError(self.name, self.retry_in())

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run the ``with`` block as one call through the breaker.

        Raises ``BreakerOpenError`` before the block runs when the breaker is open (or
        half-open with its trial call already in flight). An exception from the block counts
        as a failure when ``is_failure`` says so; cancellation counts as nothing.
        """
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
        except BaseException:
            # Cancelled (the caller gave up or the service is stopping): says nothing
            # about the dependency, so neither counted nor treated as a success.
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
