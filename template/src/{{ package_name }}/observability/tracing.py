"""OpenTelemetry tracing, configured from the standard ``OTEL_*`` environment variables.

One server span per request is started by the edge middleware (see ``middleware.py``) rather
than by the ASGI auto-instrumentation: that one does three spans per request (server, receive,
send) and measured 0.2-0.3x the throughput of a bare app here. The span keeps the HTTP server
semantic conventions: name ``"{method} {route}"``, ``http.request.method``, ``http.route``,
``url.path``, ``url.scheme``, ``http.response.status_code``, ``server.*``,
``network.protocol.version``; 5xx marks it errored.

The SDK is imported only when tracing is on (``OTEL_SDK_DISABLED`` is not ``true``). OTLP/HTTP
export goes through ``otlp.LeanOTLPSpanExporter``, which encodes spans several times faster than
the exporter package does, each as it ends (``otlp.EncodingBatchSpanProcessor``). With the SDK's
own samplers, a root span's sampling is decided here before the SDK is asked: an unsampled
request's span is made without it (``sampling.py``), a sampled one is the SDK's span type built
directly (``edge_span.py``).
"""

import os
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from random import getrandbits as _getrandbits
from typing import TYPE_CHECKING, Any, cast

import structlog
from opentelemetry import context, propagate, trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.trace.span import DEFAULT_TRACE_STATE
from starlette.types import Scope
from structlog.types import EventDict

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from .sampling import EdgeIdGenerator, RootSampling

__all__ = [
    "ServerSpans",
    "StartedSpan",
    "TracingConfigError",
    "add_trace_context",
    "configure_tracing",
    "instrument_httpx_client",
    "shutdown_tracing",
    "tracing_enabled",
]

logger = structlog.get_logger(__name__)

_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"}
)


class TracingConfigError(ValueError):
    """An ``OTEL_*`` variable has a value this service cannot honour."""


def tracing_enabled() -> bool:
    """False when ``OTEL_SDK_DISABLED=true`` (the spec's switch for the whole SDK)."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def _exporter(name: str) -> "SpanExporter | None":
    if name == "none":
        return None
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={name!r} is not supported: use otlp, console or none"
        )
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ).strip()
    if protocol == "http/protobuf":
        from .otlp import LeanOTLPSpanExporter

        return LeanOTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError as exc:
            raise TracingConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc:"
                " add it with `uv add opentelemetry-exporter-otlp-proto-grpc`, or use http/protobuf"
            ) from exc
        exporter: SpanExporter = GrpcSpanExporter()
        return exporter
    raise TracingConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf or grpc"
    )


def _batch_processor(exporter: "SpanExporter") -> "SpanProcessor":
    """The SDK's batch processor for ``exporter``; for ours, one that encodes spans as they end."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if f"{__package__}.otlp" in sys.modules:  # only imported when the otlp exporter was chosen
        from .otlp import EncodingBatchSpanProcessor, LeanOTLPSpanExporter

        if isinstance(exporter, LeanOTLPSpanExporter):
            return EncodingBatchSpanProcessor(exporter)
    return BatchSpanProcessor(exporter)


def _default_exporter_name() -> str:
    """Pick the exporter when ``OTEL_TRACES_EXPORTER`` is unset.

    The spec's default is otlp; without an endpoint we export nothing instead of retrying
    against a collector that is not there (spans still give logs their trace ids).
    """
    if any(
        os.environ.get(var)
        for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return "otlp"
    return "none"


def configure_tracing(
    *,
    service_name: str,
    service_version: str,
    environment: str,
    exporter: "SpanExporter | None" = None,
) -> "TracerProvider | None":
    """Install a global tracer provider from the ``OTEL_*`` variables; None when disabled.

    ``exporter`` replaces the one the variables choose (tests pass an in-memory exporter).
    """
    if not tracing_enabled():
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from .export import HashedOnceResource
    from .sampling import EdgeIdGenerator

    # Resource.create() merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over these.
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name,
            "service.version": service_version,
            "deployment.environment.name": environment,
        }
    )
    # Sampler from OTEL_TRACES_SAMPLER[_ARG]; the id generator lets the edge draw a root
    # span's trace id and decide its sampling before the SDK is asked (sampling.py).
    provider = TracerProvider(resource=HashedOnceResource(resource), id_generator=EdgeIdGenerator())
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        names = os.environ.get("OTEL_TRACES_EXPORTER") or _default_exporter_name()
        for name in (n.strip() for n in names.split(",")):
            chosen = _exporter(name)
            if chosen is not None:
                provider.add_span_processor(_batch_processor(chosen))
    trace.set_tracer_provider(provider)
    logger.info("tracing.configured", sampler=provider.sampler.get_description())
    return provider


def instrument_httpx_client(client: "httpx.AsyncClient") -> None:
    """Give one outbound client client spans and ``traceparent`` on every request.

    Per client rather than patching httpx for the whole process: the instrumentation's import
    alone took ~0.27 s of start-up, and a service without upstreams never needs it. The
    upstream clients (``resilience/http.py``) call this; call it for any client you add.
    """
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client)


def shutdown_tracing(provider: "TracerProvider | None") -> None:
    """Flush and stop span export (called once, at shutdown)."""
    if provider is not None:
        provider.shutdown()


@dataclass(slots=True)
class StartedSpan:
    """A request's open server span and the context token to restore."""

    span: trace.Span
    token: object
    method: str


@dataclass
class ServerSpans:
    """Starts and finishes the one server span of each request."""

    tracer: trace.Tracer
    excluded_paths: frozenset[str] = field(default_factory=frozenset)
    _sampling: "RootSampling | None" = field(default=None, init=False, repr=False)
    _resolved: bool = field(default=False, init=False, repr=False)

    def _resolve(self) -> None:
        """On the first request: the provider's own tracer, and whether roots can be decided here.

        The app's tracer may be the global proxy (taken before ``configure_tracing`` installed
        the provider); going to the provider's tracer saves a call per span. ``sampling.py``
        says when the edge decides a root span's sampling itself.
        """
        self._resolved = True
        tracer = self.tracer
        if isinstance(tracer, trace.ProxyTracer):
            real = tracer._tracer  # the installed provider's tracer, if any
            if isinstance(real, trace.NoOpTracer):
                self._resolved = False  # no provider yet: look again on the next request
                return
            self.tracer = tracer = real
        if "opentelemetry.sdk.trace" in sys.modules:  # only an SDK tracer can qualify
            from .sampling import root_sampling

            self._sampling = root_sampling(tracer)

    def start(self, scope: Scope) -> StartedSpan | None:
        """Open the request's span (parent from ``traceparent``) and make it current."""
        if scope["path"] in self.excluded_paths:
            return None
        if not self._resolved:
            self._resolve()
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "_OTHER"
        name = "HTTP" if method == "_OTHER" else method
        handed_to: EdgeIdGenerator | None = None
        sampling = self._sampling
        headers = scope["headers"]
        for header, _ in headers:
            if header in _PROPAGATION_HEADERS:
                parent = propagate.extract(_HeaderCarrier(headers), getter=_GETTER)
                break
        else:  # most requests inside a cluster's edge: a root span, no parsing
            parent = _ROOT
            if sampling is not None:
                # The id generator's own draw (RandomIdGenerator's), inlined: root_sampling
                # only plans for EdgeIdGenerator itself, which draws its ids this way. Trace
                # ids are identifiers, not secrets (the SDK draws them from random too).
                trace_id = _getrandbits(128) or sampling.draw()  # nosec B311
                span: trace.Span
                if trace_id & sampling.mask >= sampling.bound:  # not sampled: no SDK span
                    span_id = _getrandbits(64) or sampling.ids.generate_span_id()  # nosec B311
                    span = NonRecordingSpan(
                        fast_span_context(trace_id, span_id, sampling.unsampled_flags)
                    )
                    return StartedSpan(span, _attach_root(span), name)
                if sampling.new_span is not None:  # sampled: the SDK's span, built here
                    span_id = _getrandbits(64) or sampling.ids.generate_span_id()  # nosec B311
                    span = sampling.new_span(
                        name,
                        fast_span_context(trace_id, span_id, sampling.sampled_flags),
                        _request_attributes(scope, method),
                    )
                    return StartedSpan(span, _attach_root(span), name)
                handed_to = sampling.ids
                handed_to.hand_over(trace_id)  # the SDK's span gets this id
        try:
            span = self.tracer.start_span(
                name, parent, SpanKind.SERVER, _request_attributes(scope, method)
            )
        finally:
            if handed_to is not None:
                handed_to.take_back()
        token = context.attach(trace.set_span_in_context(span, parent))
        return StartedSpan(span, token, name)

    @staticmethod
    def finish(started: StartedSpan, route: str | None, status: int, crashed: bool) -> None:
        """Name the span by route, record the status, end it and restore the context."""
        span = started.span
        if span.is_recording():
            attributes: dict[str, Any] = {"http.response.status_code": status}
            name = None
            if route:
                attributes["http.route"] = route
                name = f"{started.method} {route}"
            error = crashed or status >= 500
            if error:
                attributes["error.type"] = "exception" if crashed else str(status)
            finish_server = getattr(span, "finish_server", None)
            if finish_server is not None:  # the edge's own sampled root span (edge_span.py)
                finish_server(name, attributes, error)
            else:
                if name is not None:
                    span.update_name(name)
                if error:
                    span.set_status(Status(StatusCode.ERROR))
                span.set_attributes(attributes)  # one call: each takes the span's lock
                span.end()
        _detach(started.token)


def _request_attributes(scope: Scope, method: str) -> dict[str, Any]:
    """The server span's attributes known when the request arrives (HTTP semantic conventions)."""
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    if server := scope.get("server"):
        attributes["server.address"], attributes["server.port"] = server[0], server[1]
    return attributes


def add_trace_context(_: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: put the current span's ids on the line (hex, as OTel writes them).

    An error logged inside a recording span also marks that span as errored.
    """
    span = _current_span()
    span_context = span.get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = span_context.trace_id.to_bytes(16, "big").hex()
        event_dict["span_id"] = span_context.span_id.to_bytes(8, "big").hex()
        if method_name in ("error", "exception", "critical") and span.is_recording():
            span.set_status(Status(StatusCode.ERROR, str(event_dict.get("event", ""))))
    return event_dict


_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_ROOT = context.Context()


def fast_span_context(trace_id: int, span_id: int, flags: TraceFlags) -> SpanContext:
    """A local ``SpanContext`` for valid, non-zero ids, without the constructor's checks.

    ``sampling.root_sampling`` checks that it equals the constructor's before using it.
    """
    return tuple.__new__(SpanContext, (trace_id, span_id, False, flags, DEFAULT_TRACE_STATE, True))


def _context_variable() -> "ContextVar[context.Context] | None":
    """The variable the default runtime context keeps the current context in, if that is it.

    Making a root span current, and reading the current span for a log line, through it
    directly instead of through the API's layers saves ~5k instructions a request. Checked
    against the API's own result; any other runtime context (``OTEL_PYTHON_CONTEXT``) goes
    through the API.
    """
    runtime = getattr(context, "_RUNTIME_CONTEXT", None)
    if type(runtime) is not ContextVarsRuntimeContext:
        return None
    variable = getattr(runtime, "_current_context", None)
    if not isinstance(variable, ContextVar):
        return None
    marker = NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
    probe = trace.set_span_in_context(marker, _ROOT)
    if probe != context.Context({_SPAN_KEY: marker}):
        return None
    token = variable.set(probe)
    try:
        if trace.get_current_span() is not marker or context.get_current() is not probe:
            return None
    finally:
        variable.reset(token)
    return variable


_CURRENT = _context_variable()


def _attach_root(span: trace.Span) -> object:
    """Make ``span``, a root span, the current one; the token restores the previous context."""
    if _CURRENT is not None:
        return _CURRENT.set(context.Context({_SPAN_KEY: span}))
    return context.attach(trace.set_span_in_context(span, _ROOT))


def _detach(token: object) -> None:
    """Restore the context from before ``_attach_root`` or ``context.attach``."""
    if _CURRENT is not None:
        try:
            _CURRENT.reset(token)  # type: ignore[arg-type]
            return
        except (ValueError, RuntimeError):  # another context's token: the API logs it
            pass
    context.detach(token)  # type: ignore[arg-type]


def _current_span() -> trace.Span:
    if _CURRENT is not None:
        span = _CURRENT.get().get(_SPAN_KEY)
        return cast(trace.Span, span) if span is not None else trace.INVALID_SPAN
    return trace.get_current_span()


class _HeaderCarrier:
    """Lazy view of ASGI headers for the propagator (only the few it asks for)."""

    __slots__ = ("headers",)

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.headers: dict[str, str] = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in headers
            if name in _PROPAGATION_HEADERS
        }


class _Getter:
    def get(self, carrier: _HeaderCarrier, key: str) -> list[str] | None:
        value = carrier.headers.get(key)
        return [value] if value is not None else None

    def keys(self, carrier: _HeaderCarrier) -> list[str]:
        return list(carrier.headers)


_GETTER: Any = _Getter()
