"""Calling other services safely: retries, circuit breakers, timeouts (see each module).

The HTTP client (``.http``) and the retry policy (``.retry``) are imported only when an
upstream is configured.
"""

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
