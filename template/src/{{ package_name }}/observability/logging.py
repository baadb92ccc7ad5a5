"""Structured logging: one JSON object per line on stdout, for structlog's loggers and stdlib's.

A stream that can no longer be written loses the line, never the request that logged it.
"""

import contextlib
import functools
import logging
import sys
from typing import Any, BinaryIO, Literal

import orjson
import structlog
from opentelemetry import trace
from structlog.processors import ExceptionRenderer, JSONRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.types import EventDict, Processor, WrappedLogger

__all__ = ["add_trace_context", "configure_logging", "log_request"]

# uvicorn's own access log is replaced by our middleware's "http.request" line.
_SILENCED = ("uvicorn.access",)
_ROUTED_TO_ROOT = ("uvicorn", "uvicorn.error", "fastapi")
_ERROR_METHODS = frozenset({"error", "exception", "critical"})


def add_trace_context(_: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Put the current span's ids on the line; an error logged in a span marks it errored."""
    span = trace.get_current_span()
    span_context = span.get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = format(span_context.trace_id, "032x")
        event_dict["span_id"] = format(span_context.span_id, "016x")
        if method_name in _ERROR_METHODS and span.is_recording():
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(event_dict.get("event", ""))))
    return event_dict


def _add_logger_name(logger: WrappedLogger, _: str, event_dict: EventDict) -> EventDict:
    """Stdlib records are named by their logger, structlog lines by ``get_logger``'s name."""
    record = event_dict.get("_record")
    event_dict["logger"] = record.name if record is not None else getattr(logger, "name", "app")
    return event_dict


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Uvicorn adds a duplicate of the message with terminal colour codes; drop it."""
    event_dict.pop("color_message", None)
    return event_dict


@functools.cache
def _access_logger(name: str) -> Any:
    """One logger per name: with ``cache_loggers`` it builds its pipeline once, not per line."""
    return structlog.get_logger(name)


def log_request(logger: str, method: str, route: str, status: int, duration_ms: float) -> None:
    """Log the ``http.request`` line of one finished request, as ``logger`` at INFO."""
    _access_logger(logger).info(
        "http.request", method=method, route=route, status=status, duration_ms=duration_ms
    )


class _Guarded:
    """The stream the lines go to, bytes or text; a closed stream or broken pipe drops a line."""

    def __init__(self, binary: BinaryIO) -> None:
        self.binary = binary

    def write(self, data: bytes | str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.binary.write(data.encode("utf-8") if isinstance(data, str) else data)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.binary.flush()


class _NamedBytesLogger(structlog.BytesLogger):
    """structlog's bytes logger, carrying the name it was asked for (the ``logger`` field)."""

    def __init__(self, file: Any, name: str) -> None:
        super().__init__(file)
        self.name = name


def _serialize_str(data: Any, **_: Any) -> str:
    return orjson.dumps(data, default=str).decode()


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "console"] = "json",
    stream: BinaryIO | None = None,
    *,
    cache_loggers: bool = False,
) -> None:
    """Configure structlog and the stdlib root logger once, at start-up.

    ``cache_loggers`` freezes each logger's pipeline on first use: faster, but the logger keeps
    the stream it first saw, so only the long-running server turns it on.
    """
    out = _Guarded(stream if stream is not None else sys.stdout.buffer)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
    ]
    if fmt == "console":
        final: list[Processor] = [
            structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        ]
        native = final
    else:
        # Tracebacks as structured data, never with local variables (they leak secrets).
        exceptions = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        final = [exceptions, JSONRenderer(serializer=_serialize_str)]
        native = [exceptions, JSONRenderer(serializer=orjson.dumps, default=str)]

    def factory(*args: Any) -> WrappedLogger:
        if fmt == "console":
            return structlog.WriteLogger(out)  # type: ignore[arg-type]
        return _NamedBytesLogger(out, args[0] if args and isinstance(args[0], str) else "app")

    structlog.reset_defaults()
    structlog.configure(
        processors=[*shared, *native],
        wrapper_class=structlog.make_filtering_bound_logger(level.upper()),
        logger_factory=factory,
        cache_logger_on_first_use=cache_loggers,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in (*_ROUTED_TO_ROOT, *_SILENCED):
        stdlib_logger = logging.getLogger(name)
        stdlib_logger.handlers.clear()
        stdlib_logger.propagate = name not in _SILENCED
