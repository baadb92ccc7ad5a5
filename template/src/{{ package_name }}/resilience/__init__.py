"""Calling other services safely: retries, circuit breakers, timeouts (see each module).

Only the light parts are re-exported here; the HTTP client lives in ``.http`` (``Upstream``,
``UpstreamConfig``) and the retry policy in ``.retry``, imported when an upstream is configured.
"""

from .breaker import Breaker, BreakerOpenError
from .errors import UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError
from .events import EVENTS, ResilienceEvents
from .upstreams import Upstreams

__all__ = [
    "EVENTS",
    "Breaker",
    "BreakerOpenError",
    "ResilienceEvents",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "Upstreams",
]
