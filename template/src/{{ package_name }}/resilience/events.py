"""Resilience events: retries and breaker transitions, logged once and fanned out to listeners."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog

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

_TRANSITIONS = {"open": "breaker.opened", "half_open": "breaker.half_opened"}


class ResilienceEvents:
    """Log resilience events and fan them out to subscribed listeners."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, event: Event) -> None:
        """Log ``event``, then hand it to each listener; a failing listener is logged."""
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
            name = _TRANSITIONS.get(event.new, "breaker.closed")
            log(name, breaker=event.name, previous=event.old, failures=event.failures)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # an exporter's bug must not break the call it observes
                logger.exception("resilience.listener_failed", listener=repr(listener))


EVENTS = ResilienceEvents()
