"""Root server spans built by the edge: the SDK's own ``Span``, without ``start_span``.

For a sampled root span the SDK's ``start_span`` and the span's first attributes cost about
as much as the rest of the service's work on a request (measured under callgrind: ~145k
instructions, most of it checking attribute values the edge wrote itself and building
containers the span may never use). Once the edge has decided that a root span is sampled
(``sampling.py``), it builds the same span directly:

- an instance of the SDK's ``Span``, so user code, span processors and exporters see what
  they always see, and ``set_attribute``, ``add_event``, ``record_exception``, ``set_status``
  and ``end`` are the SDK's own;
- the same fields the SDK's constructor sets, from the tracer (resource, scope, limits,
  processors), with the edge's attributes taken as they are: they are str and int values the
  edge produced, which is what the SDK's checks would leave unchanged;
- the events and links lists are made on the first event or link (most server spans get
  none); span processors' ``on_start`` and ``on_end`` are called as the SDK calls them.

It relies on the layout of the SDK's ``Span``, ``BoundedAttributes`` and ``SpanContext``, so
``span_factory`` checks that layout against spans built the SDK's way when tracing starts,
and on any difference (a newer SDK, say) returns None and every span goes through the SDK.
It also declines when span limits would change the edge's attributes (a value length limit,
an attribute count limit under 32). Imported only when tracing is on.
"""

import threading
from collections.abc import Callable
from time import time_ns
from typing import Any, cast

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, SpanLimits, Tracer
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceFlags

from .tracing import _ROOT  # the empty context a root span's parent is

__all__ = ["EdgeSpan", "SpanFactory", "span_factory"]

_MIN_ATTRIBUTE_LIMIT = 32  # room for the edge's 9 attributes and the application's own
_ERROR = Status(StatusCode.ERROR)


class EdgeSpan(SdkSpan):
    """The SDK's ``Span``, built by ``SpanFactory`` and finished by ``finish_server``."""

    def _add_event(self, event: Event) -> None:
        if self._events.__class__ is tuple:  # the first event: the list the SDK would have made
            self._events = BoundedList(self._limits.max_events)
        super()._add_event(event)

    def _add_link(self, link: Link) -> None:
        if self._links.__class__ is tuple:
            self._links = BoundedList(self._limits.max_links)
        super()._add_link(link)

    def finish_server(self, name: str | None, attributes: dict[str, Any], error: bool) -> None:
        """Add the response's attributes, rename, mark an error and end, as the edge does."""
        values = cast(BoundedAttributes, self._attributes)
        limit = values.maxlen
        if self._end_time is None and (limit is None or len(values) + 3 <= limit):
            values._dict.update(attributes)  # str and int from the edge: nothing to clean
            if name is not None:
                self._name = name
        else:  # ended by the application already, or near the count limit: the SDK's way
            self.set_attributes(attributes)
            if name is not None:
                self.update_name(name)
        if error:
            self.set_status(_ERROR)
        self.end()


SpanFactory = Callable[[str, SpanContext, dict[str, Any]], EdgeSpan]


def _build(fields: dict[str, Any], attribute_fields: dict[str, Any]) -> SpanFactory:
    processor = fields["_span_processor"]

    def start(name: str, span_context: SpanContext, attributes: dict[str, Any]) -> EdgeSpan:
        """Start a sampled root server span with ``attributes`` (str and int values)."""
        values = BoundedAttributes.__new__(BoundedAttributes)
        values.__dict__.update(attribute_fields)
        values._dict = attributes
        values._lock = threading.Lock()
        span = object.__new__(EdgeSpan)
        span.__dict__.update(fields)
        span._name = name
        span._context = span_context
        span._attributes = values
        span._lock = threading.Lock()
        span._start_time = time_ns()
        processor.on_start(span, parent_context=_ROOT)  # what start_span passes for a root
        return span

    return start


def span_factory(tracer: Tracer) -> SpanFactory | None:
    """What builds the edge's sampled root spans for ``tracer``; None if it cannot."""
    limits: SpanLimits = tracer._span_limits
    if limits.max_span_attribute_length is not None:
        return None  # the edge's values might need truncating
    if limits.max_span_attributes is not None and limits.max_span_attributes < _MIN_ATTRIBUTE_LIMIT:
        return None
    fields: dict[str, Any] = {
        "_kind": SpanKind.SERVER,
        "_instrumentation_info": tracer.instrumentation_info,
        "_instrumentation_scope": tracer._instrumentation_scope,
        "_parent": None,
        "_end_time": None,
        "_events": (),
        "_links": (),
        "_resource": tracer.resource,
        "_status": Status(StatusCode.UNSET),
        "_sampler": tracer.sampler,
        "_trace_config": None,
        "_record_exception": True,
        "_set_status_on_exception": True,
        "_span_processor": tracer.span_processor,
        "_limits": limits,
        "_record_end_metrics": None,
    }
    attribute_fields = {
        "maxlen": limits.max_span_attributes,
        "dropped": 0,
        "max_value_len": None,
        "_immutable": False,
    }
    if not _same_layout(tracer, {**fields, "_span_processor": _Unseen()}, attribute_fields):
        return None
    return _build(fields, attribute_fields)


class _Unseen:
    def on_start(self, span: SdkSpan, parent_context: object = None) -> None:
        """The probe span is not started for any processor."""


def _same_layout(tracer: Tracer, fields: dict[str, Any], attribute_fields: dict[str, Any]) -> bool:
    """Whether spans built from these fields have exactly the fields the SDK's spans have."""
    flags = TraceFlags(TraceFlags.SAMPLED)
    context = SpanContext(1, 1, is_remote=False, trace_flags=flags)
    sdk_span = object.__new__(EdgeSpan)  # built, never started: no processor sees it
    SdkSpan.__init__(
        sdk_span,
        "probe",
        context,
        resource=tracer.resource,
        attributes={"a": 1},
        kind=SpanKind.SERVER,
        span_processor=tracer.span_processor,
        limits=tracer._span_limits,
        instrumentation_info=tracer.instrumentation_info,
        instrumentation_scope=tracer._instrumentation_scope,
    )
    edge_span = _build(fields, attribute_fields)("probe", context, {"a": 1})
    return (
        vars(sdk_span).keys() == vars(edge_span).keys()
        and vars(sdk_span._attributes).keys() == vars(edge_span._attributes).keys()
        and sdk_span.attributes == edge_span.attributes
    )
