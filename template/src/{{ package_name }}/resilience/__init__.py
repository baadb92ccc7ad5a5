"""Calling other services safely; ``.http`` and ``.retry`` load only once an upstream is set."""

from .breaker import Breaker, BreakerOpenError
from .errors import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from .events import EVENTS
from .upstreams import Upstreams

__all__ = [
    "EVENTS",
    "Breaker",
    "BreakerOpenError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "Upstreams",
]
