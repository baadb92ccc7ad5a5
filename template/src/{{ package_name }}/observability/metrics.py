"""Prometheus RED metrics behind the edge middleware, on a registry of the app's own.

Labels are bounded: the route template (never the raw path; ``<unmatched>`` for 404s without a
route), a known HTTP method or ``_OTHER``, and the status class (``2xx``...).
"""

from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from ..resilience.events import BreakerRejected, BreakerStateChanged, Event, RetryScheduled
from .edge_span import KNOWN_METHODS

__all__ = ["CONTENT_TYPE_LATEST", "HttpMetrics", "HttpStats", "render"]

# Seconds; fine-grained at the low end where a healthy service lives.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series (untyped upstream)


class HttpStats:
    """Request count, duration and in-flight gauge (reading the ``in_flight`` integer at scrape)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.in_flight = 0
        self.requests = Counter(
            "http_server_requests",
            "HTTP requests served, by method, route template and status class.",
            ["method", "route", "status_class"],
            registry=registry,
        )
        self.duration = Histogram(
            "http_server_request_duration_seconds",
            "Time to serve a request, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=registry,
        )
        in_flight = Gauge(
            "http_server_requests_in_flight", "Requests being served now.", registry=registry
        )
        in_flight.set_function(lambda: self.in_flight)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and record its duration."""
        if method not in KNOWN_METHODS:
            method = "_OTHER"
        status_class = min(max(status // 100, 1), 5)
        key = (method, route, status_class)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, _STATUS_CLASSES[status_class - 1]),
                self.duration.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)


@dataclass
class HttpMetrics:
    """The service's metrics; one instance per app, registered on ``registry``."""

    service_name: str
    version: str
    commit: str
    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )
    # Registries of other components (the message broker's) served on the same /metrics.
    extra_registries: list[CollectorRegistry] = field(default_factory=list)

    def __post_init__(self) -> None:
        reg = self.registry
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)
        self.http = HttpStats(reg)
        build = Gauge(
            "service_build_info",
            "Always 1; the labels say which build is running.",
            ["service", "version", "commit"],
            registry=reg,
        )
        build.labels(self.service_name, self.version, self.commit).set(1)
        self.readiness = Gauge(
            "service_readiness_check_up",
            "1 when the readiness check passed on its last run, else 0.",
            ["check"],
            registry=reg,
        )
        self.readiness_latency = Gauge(
            "service_readiness_check_latency_seconds",
            "How long the readiness check took on its last run.",
            ["check"],
            registry=reg,
        )
        self.retries = Counter(
            "resilience_retries",
            "Retries scheduled, by operation (the upstream's name for outbound calls).",
            ["operation"],
            registry=reg,
        )
        self.breaker_transitions = Counter(
            "resilience_breaker_transitions",
            "Circuit breaker state changes, by breaker and the state entered.",
            ["breaker", "state"],
            registry=reg,
        )
        self.breaker_rejections = Counter(
            "resilience_breaker_rejections",
            "Calls refused without an attempt because the breaker was open.",
            ["breaker"],
            registry=reg,
        )
        self.breaker_state = Gauge(
            "resilience_breaker_state",
            "Current breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker"],
            registry=reg,
        )

    def record_check(self, name: str, passed: bool, latency_ms: float) -> None:
        """Export one readiness check result."""
        self.readiness.labels(name).set(1 if passed else 0)
        self.readiness_latency.labels(name).set(latency_ms / 1000)

    def record_resilience_event(self, event: Event) -> None:
        """Export one retry or breaker event (subscribed to ``resilience.events.EVENTS``)."""
        if isinstance(event, RetryScheduled):
            self.retries.labels(event.name).inc()
        elif isinstance(event, BreakerStateChanged):
            self.breaker_transitions.labels(event.name, event.new).inc()
            self.breaker_state.labels(event.name).set(_BREAKER_STATES[event.new])
        elif isinstance(event, BreakerRejected):
            self.breaker_rejections.labels(event.name).inc()

    def track_breaker(self, name: str) -> None:
        """Export a breaker's state from the start (closed) rather than from its first change."""
        self.breaker_state.labels(name).set(0)


_BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


def render(metrics: HttpMetrics) -> bytes:
    """The registry, then any extra ones (e.g. the broker's), in Prometheus text format."""
    return b"".join(generate_latest(r) for r in (metrics.registry, *metrics.extra_registries))
