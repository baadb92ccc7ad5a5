"""The edge decides a root span's sampling before asking the SDK for a span.

With ratio sampling most requests are not sampled, yet the SDK's ``start_span`` still costs
about as much for them as a third of the edge middleware: the attributes dict, a sampler
call through ``ParentBased``, a ``SamplingResult``, trace flags built twice. The configured
sampler decides a root span (no incoming ``traceparent``) from its trace id alone, so the edge
can draw the trace id, apply the same rule, and for an unsampled request make the
non-recording span itself: same trace id, new span id, same flags as the SDK would set (logs
still carry the ids; outbound calls still propagate ``traceparent`` with the sampled flag off).
A sampled root span is the SDK's ``Span`` built by the edge (``edge_span.py``); where that
cannot be done, the SDK's ``start_span`` makes it, taking the trace id already drawn from
``EdgeIdGenerator``, so the sampler reaches the same decision.

Only the SDK's own samplers are read this way (``traceidratio``, ``always_on``,
``always_off`` and their ``parentbased_*`` forms); any other sampler, a tracer that is not the
SDK's, or the SDK's internal span metrics being on, and every span goes through the SDK.
Imported only when tracing is on.
"""

import os
import threading
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanContext, TraceFlags

from .edge_span import SpanFactory, span_factory
from .tracing import fast_span_context

__all__ = ["EdgeIdGenerator", "RootSampling", "root_sampling"]

_LOW_64 = TraceIdRatioBased.TRACE_ID_LIMIT  # the low 64 bits the ratio rule reads


class _Pending(threading.local):
    trace_id: int | None = None  # a class default: reading it never raises


class EdgeIdGenerator(RandomIdGenerator):
    """Random ids, as the SDK's default; a trace id handed over by the edge is used once.

    The hand-over is per thread: the edge hands an id over and starts the span on the same
    thread, without yielding in between, so no other span can take it.
    """

    def __init__(self) -> None:
        self._pending = _Pending()

    def hand_over(self, trace_id: int) -> None:
        """Make ``trace_id`` the one the next span started on this thread gets."""
        self._pending.trace_id = trace_id

    def take_back(self) -> None:
        """Forget a handed-over id the SDK did not use (a disabled tracer draws none)."""
        self._pending.trace_id = None

    def generate_trace_id(self) -> int:
        """The handed-over trace id if there is one, otherwise a random one."""
        trace_id = self._pending.trace_id
        if trace_id is not None:
            self._pending.trace_id = None
            return trace_id
        return super().generate_trace_id()


@dataclass(frozen=True, slots=True)
class RootSampling:
    """The rule the tracer's sampler applies to a root span, and what the edge builds with."""

    bound: int
    """A root span is sampled when the low 64 bits of its trace id are below this."""
    ids: EdgeIdGenerator
    unsampled_flags: TraceFlags
    sampled_flags: TraceFlags
    mask: int = _LOW_64
    """The bits of a trace id the ratio rule reads."""
    new_span: SpanFactory | None = None
    """Builds a sampled root span without ``start_span`` (``edge_span.py``); None: the SDK."""

    def draw(self) -> int:
        """A new trace id, as the id generator would draw it."""
        return RandomIdGenerator.generate_trace_id(self.ids)


def _root_bound(sampler: Sampler) -> int | None:
    """The trace-id bound under which ``sampler`` samples a root span, or None if unknown."""
    if isinstance(sampler, ParentBased):
        # ParentBased hands a root span to its root sampler (not exposed publicly).
        root = getattr(sampler, "_root", None)
        return _root_bound(root) if isinstance(root, Sampler) else None
    if type(sampler) is TraceIdRatioBased:
        return sampler.bound
    if type(sampler) is StaticSampler:
        decision = getattr(sampler, "_decision", None)
        if decision is Decision.DROP:
            return 0
        if decision is Decision.RECORD_AND_SAMPLE:
            return _LOW_64 + 1
    return None


def _fast_contexts_match() -> bool:
    """Whether ``fast_span_context`` builds what ``SpanContext`` builds (the API's layout)."""
    flags = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
    built = SpanContext(2**100 + 3, 2**60 + 5, is_remote=False, trace_flags=flags)
    fast = fast_span_context(2**100 + 3, 2**60 + 5, flags)
    return fast == built and fast.is_valid and fast.trace_state is built.trace_state


def root_sampling(tracer: trace.Tracer) -> RootSampling | None:
    """How the edge can decide root spans for ``tracer`` itself; None when it cannot."""
    if not isinstance(tracer, SdkTracer) or type(tracer.id_generator) is not EdgeIdGenerator:
        return None  # a subclass may draw its ids another way
    if os.environ.get("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "").strip().lower() == "true":
        return None  # the SDK counts dropped spans itself; let it see them
    if not tracer._is_enabled():  # a tracer configured off makes no spans at all
        return None
    bound = _root_bound(tracer.sampler)
    if bound is None or not _fast_contexts_match():
        return None
    new_span = span_factory(tracer)
    if bound > _LOW_64 and new_span is None:  # every root sampled, by the SDK: nothing to do
        return None
    flags = TraceFlags.DEFAULT
    if tracer.id_generator.is_trace_id_random():
        flags |= TraceFlags.RANDOM_TRACE_ID
    sampled = TraceFlags(flags | TraceFlags.SAMPLED)
    return RootSampling(bound, tracer.id_generator, TraceFlags(flags), sampled, new_span=new_span)
