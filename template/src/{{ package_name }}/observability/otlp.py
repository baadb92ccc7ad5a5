"""OTLP/HTTP span export with a leaner encoder; imported only when the otlp exporter is chosen.

``encode_spans`` writes the OTLP ``ExportTraceServiceRequest`` bytes directly. The exporter
package's encoder builds a protobuf message object for every span, attribute and value first
and measured 40-65 us a span here, on the export thread, holding the GIL the event loop needs;
writing the wire format directly takes a fraction of that. The bytes decode to the same message
(the tests compare the two encoders span by span); a batch this encoder cannot write falls back
to the package's encoder, so no span is lost to it.
"""

import logging
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as _proto_encode
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

__all__ = ["EncodingBatchSpanProcessor", "LeanOTLPSpanExporter", "encode_spans"]

_logger = logging.getLogger(__name__)

_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_DOUBLE = struct.Struct("<d").pack
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
# Span.flags: the parent's "is remote" bit is known (0x100), and set (0x200) for remote parents.
_FLAGS_LOCAL = b"\x85\x01" + _FIXED32(0x100)
_FLAGS_REMOTE = b"\x85\x01" + _FIXED32(0x300)
_LINK_FLAGS_LOCAL = b"\x35" + _FIXED32(0x100)
_LINK_FLAGS_REMOTE = b"\x35" + _FIXED32(0x300)
_SMALL = [bytes((n,)) for n in range(0x80)]  # one-byte varints


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64  # int64 on the wire: two's complement in ten bytes
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    size = len(payload)
    return tag + (_SMALL[size] if size < 0x80 else _varint(size)) + payload


_KEYS: dict[str, bytes] = {}


def _key(key: str) -> bytes:
    """KeyValue.key, remembered: services use a few hundred attribute names at most."""
    encoded = _KEYS.get(key)
    if encoded is None:
        encoded = _field(b"\x0a", key.encode())
        if len(_KEYS) < 4096:
            _KEYS[key] = encoded
    return encoded


def _any_value(value: Any) -> bytes:
    """AnyValue's fields, in the order of the exporter package's checks (bool before int)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"{value} does not fit an int64")
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    if isinstance(value, Mapping):
        pairs = [_key_value(str(k), v) for k, v in value.items()]
        return _field(b"\x32", b"".join([_field(b"\x0a", pair) for pair in pairs]))
    raise TypeError(f"cannot encode a {type(value).__name__} attribute value")


def _key_value(key: str, value: Any) -> bytes:
    return _key(key) + _field(b"\x12", _any_value(value))


# Encoded KeyValue fields of short str and int attributes: most repeat from span to span
# (method, route, status, scheme, server address). Emptied when full, so never unbounded.
_PAIRS: dict[tuple[bytes, str, type, object], bytes] = {}


def _items(attributes: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """The pairs of ``attributes``; for the SDK's ``BoundedAttributes``, of the dict it wraps.

    Its mapping view calls ``__iter__`` (taking the lock and copying the keys while the span
    is open) and then ``__getitem__`` for every pair, both in Python: most of the encoder's time
    for a span went there (35k instructions for nine attributes under callgrind).
    ``BoundedAttributes.__getitem__`` reads the same dict.
    """
    if attributes.__class__ is BoundedAttributes:
        wrapped = getattr(attributes, "_dict", None)
        if wrapped.__class__ is dict:
            return wrapped.items()
    return attributes.items()


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated KeyValue under ``tag``; a value that cannot be encoded is logged and left out."""
    if not attributes:
        return b""
    out = []
    for key, value in _items(attributes):
        kind = value.__class__
        if kind is str or kind is int:
            pair = (tag, key, kind, value)
            encoded = _PAIRS.get(pair)
            if encoded is None:
                try:
                    encoded = _field(tag, _key_value(key, value))
                except ValueError as error:  # an int outside int64
                    _logger.warning("Failed to encode span attribute %s: %s", key, error)
                    continue
                if kind is int or len(value) <= 64:
                    if len(_PAIRS) >= 4096:
                        _PAIRS.clear()
                    _PAIRS[pair] = encoded
            out.append(encoded)
            continue
        try:
            out.append(_field(tag, _key_value(key, value)))
        except (TypeError, ValueError) as error:
            _logger.warning("Failed to encode span attribute %s: %s", key, error)
    return b"".join(out)


# A finished span's fields, in the order _span reads them.
_FIELDS = ("_context", "_parent", "_name", "_kind", "_start_time", "_end_time", "_attributes",
           "_events", "_links", "_status")  # fmt: skip


def _readable_layout() -> bool:
    """Whether the SDK's ``ReadableSpan`` keeps what its properties return in ``_FIELDS``."""
    probe = ReadableSpan("probe", attributes=BoundedAttributes(attributes={"a": 1}))
    fields = vars(probe)
    return all(name in fields for name in _FIELDS) and (
        probe.name is fields["_name"]
        and probe.kind is fields["_kind"]
        and probe.status is fields["_status"]
        and probe.dropped_attributes == fields["_attributes"].dropped
    )


_DIRECT = _readable_layout()


def _fields(span: ReadableSpan) -> tuple[Any, ...]:
    """What the encoder needs of a finished span, and its three dropped counts.

    For the SDK's own ``ReadableSpan`` (what its processors hand an exporter) straight from
    the instance: its properties copy events and links into tuples, wrap the attributes in a
    read-only view and check each container's type again (with the names, kinds and statuses
    remembered below, a span encodes in 0.87x the time). The layout is checked once, at import;
    any other span uses the properties.
    """
    if _DIRECT and span.__class__ is ReadableSpan:
        values = vars(span)
        attributes, events, links = values["_attributes"], values["_events"], values["_links"]
        return (
            values["_context"],
            values["_parent"],
            values["_name"],
            values["_kind"],
            values["_start_time"],
            values["_end_time"],
            attributes,
            events,
            links,
            values["_status"],
            attributes.dropped if attributes.__class__ is BoundedAttributes else 0,
            events.dropped if events.__class__ is BoundedList else 0,
            links.dropped if links.__class__ is BoundedList else 0,
        )
    return (
        span.get_span_context(),
        span.parent,
        span.name,
        span.kind,
        span.start_time,
        span.end_time,
        span.attributes,
        span.events,
        span.links,
        span.status,
        span.dropped_attributes,
        span.dropped_events,
        span.dropped_links,
    )


_KINDS = {kind: b"\x30" + _varint(kind.value + 1) for kind in SpanKind}  # OTLP counts from 1
_STATUSES = {
    code: _field(b"\x7a", b"\x18" + _varint(code.value) if code.value else b"")
    for code in StatusCode
}
_NAMES: dict[str, bytes] = {}


def _name(name: str) -> bytes:
    """Span.name, remembered when short: names are mostly a few route templates."""
    encoded = _NAMES.get(name)
    if encoded is None:
        encoded = _field(b"\x2a", name.encode())
        if len(name) <= 128:
            if len(_NAMES) >= 4096:
                _NAMES.clear()
            _NAMES[name] = encoded
    return encoded


def _status(status: Status) -> bytes:
    if not status.description:
        return _STATUSES[status.status_code]
    code = status.status_code.value
    return _field(
        b"\x7a",
        _field(b"\x12", status.description.encode()) + (b"\x18" + _varint(code) if code else b""),
    )


def _span(span: ReadableSpan) -> bytes:
    (
        context,
        parent,
        name,
        kind,
        start_time,
        end_time,
        attributes,
        events,
        links,
        status,
        dropped_attributes,
        dropped_events,
        dropped_links,
    ) = _fields(span)
    if context is None:  # never for a span the SDK finished
        raise ValueError(f"span {name!r} has no span context")
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    if context.trace_state:
        state = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
        parts.append(_field(b"\x1a", state.encode()))
    if parent is not None:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    parts.append(_name(name))
    parts.append(_KINDS[kind])
    parts.append(b"\x39" + _FIXED64(start_time or 0))
    parts.append(b"\x41" + _FIXED64(end_time or 0))
    parts.append(_attributes(b"\x4a", attributes))
    if dropped_attributes:
        parts.append(b"\x50" + _varint(dropped_attributes))
    for event in events or ():
        event_parts = b"\x09" + _FIXED64(event.timestamp) + _field(b"\x12", event.name.encode())
        event_parts += _attributes(b"\x1a", event.attributes)
        if event.dropped_attributes:
            event_parts += b"\x20" + _varint(event.dropped_attributes)
        parts.append(_field(b"\x5a", event_parts))
    if dropped_events:
        parts.append(b"\x60" + _varint(dropped_events))
    for link in links or ():
        link_parts = b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
        link_parts += b"\x12\x08" + link.context.span_id.to_bytes(8, "big")
        link_parts += _attributes(b"\x22", link.attributes)
        if link.dropped_attributes:
            link_parts += b"\x28" + _varint(link.dropped_attributes)
        link_parts += _LINK_FLAGS_REMOTE if link.context.is_remote else _LINK_FLAGS_LOCAL
        parts.append(_field(b"\x6a", link_parts))
    if dropped_links:
        parts.append(b"\x70" + _varint(dropped_links))
    parts.append(_status(status))
    parts.append(_FLAGS_REMOTE if _is_remote(parent) else _FLAGS_LOCAL)
    return b"".join(parts)


def _is_remote(parent: SpanContext | None) -> bool:
    return parent is not None and parent.is_remote


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return b""
    out = _field(b"\x0a", scope.name.encode()) if scope.name else b""
    if scope.version:
        out += _field(b"\x12", scope.version.encode())
    return out + _attributes(b"\x1a", scope.attributes)


_ENCODED = "_otlp_encoded"  # where EncodingBatchSpanProcessor leaves a span's encoded field


def _encoded(span: ReadableSpan) -> bytes:
    """ScopeSpans.spans for ``span``: encoded when it ended, or now."""
    encoded = getattr(span, _ENCODED, None)
    if isinstance(encoded, bytes):
        return encoded
    return _field(b"\x12", _span(span))


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` for ``spans``, grouped by resource and scope."""
    grouped: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
    for span in spans:
        by_scope = grouped.setdefault(span.resource, {})
        scope = span.instrumentation_scope or None
        by_scope.setdefault(scope, []).append(_encoded(span))
    out = []
    for resource, by_scope in grouped.items():
        body = _field(b"\x0a", _attributes(b"\x0a", resource.attributes))
        for scope, encoded in by_scope.items():
            scope_spans = _field(b"\x0a", _scope(scope)) + b"".join(encoded)
            if scope is not None and scope.schema_url:
                scope_spans += _field(b"\x1a", scope.schema_url.encode())
            body += _field(b"\x12", scope_spans)
        if resource.schema_url:
            body += _field(b"\x1a", resource.schema_url.encode())
        out.append(_field(b"\x0a", body))
    return b"".join(out)


class EncodingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor, with each sampled span encoded as it ends.

    Encoding a whole batch on the export thread holds the GIL for several milliseconds, and
    the event loop waits each time for the interpreter's switch interval (5 ms) to get it back:
    at 100% sampling those stalls were most of the service's p99 over a bare app's
    (bench/http_overhead.py). Encoded on the thread that ends the span, in one ~10 us piece, the
    bytes wait in the queue with the span and ``encode_spans`` only joins them. Queueing,
    batching, the ``OTEL_BSP_*`` settings, flushing and shutdown are the SDK's.
    """

    def on_end(self, span: ReadableSpan) -> None:
        """Encode ``span`` (if it is sampled) and queue it as the SDK's processor does."""
        context = span.context
        if context is not None and context.trace_flags.sampled:
            try:
                vars(span)[_ENCODED] = _field(b"\x12", _span(span))
            except Exception:  # the export encodes it again, falling back to the package's
                _logger.debug("span %r not encoded at its end", span.name, exc_info=True)
        super().on_end(span)


class LeanOTLPSpanExporter(OTLPSpanExporter):
    """The OTLP/HTTP span exporter (same settings, transport and retries) with ``encode_spans``."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode the batch here and send it with the package's HTTP client."""
        if self._shutdown:
            _logger.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as outcome:
            try:
                data = encode_spans(spans)
            except Exception:  # anything unexpected: the package's encoder, not a lost batch
                _logger.exception("Lean OTLP encoding failed; using the exporter package's encoder")
                data = _proto_encode(spans).SerializePartialToString()
            limit = self._max_request_size
            if limit > 0 and len(data) > limit:
                _logger.warning(
                    "Dropping span batch: serialized size %d bytes exceeds max_request_size %d.",
                    len(data),
                    limit,
                )
                outcome.error = ValueError(f"span batch of {len(data)} bytes is over {limit}")
                return SpanExportResult.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                outcome.error = sent.error
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
