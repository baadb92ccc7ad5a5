"""Resilience events: one place where retries and breaker transitions are logged and counted.

Breakers and the retry hook publish events here. Every event is logged as a structured line
(``stamina.retry_scheduled``, ``breaker.opened``, ``breaker.half_opened``, ``breaker.closed``)
and counted. Other code subscribes to export them (the metrics module turns them into
Prometheus counters and gauges): ``EVENTS.subscribe(listener)``.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

__all__ = [
    "EVENTS",
    "BreakerRejected",
    "BreakerStateChanged",
    "Event",
    "Listener",
    "ResilienceCounters",
    "ResilienceEvents",
    "RetryScheduled",
]

logger = structlog.get_logger(__name__)

BreakerStateName = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class RetryScheduled:
    """A failed attempt will be retried after ``wait_s`` seconds."""

    name: str
    retry_num: int
    wait_s: float
    waited_so_far_s: float
    cause: str
    method: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class BreakerStateChanged:
    """A circuit breaker moved from one state to another."""

    name: str
    old: BreakerStateName
    new: BreakerStateName
    failures: int


@dataclass(frozen=True)
class BreakerRejected:
    """A call was refused without being attempted because the breaker is open."""

    name: str


Event = RetryScheduled | BreakerStateChanged | BreakerRejected
Listener = Callable[[Event], None]

_TRANSITION_EVENTS: dict[BreakerStateName, str] = {
    "open": "breaker.opened",
    "half_open": "breaker.half_opened",
    "closed": "breaker.closed",
}


@dataclass
class ResilienceCounters:
    """Totals since start: retries per name, transitions per (breaker, state), rejections."""

    retries: Counter[str] = field(default_factory=Counter)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)

    def record(self, event: Event) -> None:
        """Count one event."""
        if isinstance(event, RetryScheduled):
            self.retries[event.name] += 1
        elif isinstance(event, BreakerStateChanged):
            self.transitions[(event.name, event.new)] += 1
        else:
            self.rejections[event.name] += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain data."""
        return {
            "retries": dict(self.retries),
            "transitions": {f"{name}:{state}": n for (name, state), n in self.transitions.items()},
            "rejections": dict(self.rejections),
        }


class ResilienceEvents:
    """Log, count and fan out resilience events to subscribed listeners."""

    def __init__(self) -> None:
        self.counters = ResilienceCounters()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def reset(self) -> None:
        """Zero the counters (tests)."""
        self.counters = ResilienceCounters()

    def publish(self, event: Event) -> None:
        """Log and count ``event``, then hand it to each listener; a failing listener is logged."""
        self.counters.record(event)
        if isinstance(event, RetryScheduled):
            logger.warning(
                "stamina.retry_scheduled",
                name=event.name,
                method=event.method,
                path=event.path,
                retry_num=event.retry_num,
                wait_for=round(event.wait_s, 3),
                waited_so_far=round(event.waited_so_far_s, 3),
                caused_by=event.cause,
            )
        elif isinstance(event, BreakerStateChanged):
            log = logger.warning if event.new == "open" else logger.info
            log(
                _TRANSITION_EVENTS[event.new],
                breaker=event.name,
                previous=event.old,
                failures=event.failures,
            )
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # an exporter's bug must not break the call it observes
                logger.exception("resilience.listener_failed", listener=repr(listener))


# Process-wide, like the Prometheus registry the metrics module exports these to.
EVENTS = ResilienceEvents()
