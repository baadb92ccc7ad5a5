"""Structured logging: one JSON object per line on stdout, for our logs and the stdlib's.

The service's own loggers (``structlog.get_logger(__name__)``) run structlog's native pipeline
and write orjson bytes straight to the stream: no stdlib ``logging`` machinery. Records from
stdlib loggers (uvicorn, libraries) go through one ``ProcessorFormatter`` that renders the same
fields. The access line, written once per request, has a shorter path still (``log_request``):
the same fields as any other line, built in one function instead of a processor chain; in the
service that halved what the line cost (bench/http_overhead.py). The server writes the access
lines of one turn of its event loop together, at the end of the turn (``_TurnLines``).
"""

import asyncio
import logging
import sys
import time
from time import time_ns
from typing import Any, BinaryIO, Literal, TextIO, cast

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.types import EventDict, Processor, WrappedLogger

from .tracing import add_trace_context

__all__ = ["configure_logging", "flush_access_lines", "log_request"]

# uvicorn's own access log is replaced by our middleware's "http.request" line.
_SILENCED = ("uvicorn.access",)
_ROUTED_TO_ROOT = ("uvicorn", "uvicorn.error", "fastapi")


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Uvicorn adds a duplicate of the message with terminal colour codes; drop it."""
    event_dict.pop("color_message", None)
    return event_dict


_LEVELS = {"exception": "error", "warn": "warning", "msg": "info"}

# The second of the last timestamp, and that timestamp up to the second with a slot for the
# microseconds; one tuple, replaced whole, so that another thread never sees half an update.
_second: tuple[int, str] = (-1, "")


def _utc_timestamp() -> str:
    """ISO 8601 UTC with microseconds; the part up to the second is formatted once a second.

    Integer nanoseconds and one ``%`` format: about 0.43 us a line against 0.71 us for a float
    clock and an f-string (timeit), on every line the service writes.
    """
    global _second
    now = time_ns()
    cached = _second
    if now // 1_000_000_000 != cached[0]:
        second = now // 1_000_000_000
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S.%%06dZ", time.gmtime(second)))
    return cached[1] % (now // 1000 % 1_000_000)


def _base_fields(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Add level, logger name, timestamp and the current span's ids in one step.

    One processor instead of four keeps the per-line cost down (the access log writes a line
    per request). Stdlib records are named by their logger; structlog loggers by the name
    given to ``structlog.get_logger(__name__)``.
    """
    record = event_dict.get("_record")
    if record is not None:
        return _stamp(event_dict, method_name, record.levelname.lower(), record.name)
    level = _LEVELS.get(method_name, method_name)
    return _stamp(event_dict, method_name, level, getattr(logger, "name", None) or "app")


def _stamp(event_dict: EventDict, method_name: str, level: str, logger: str) -> EventDict:
    """The fields every line has: level, logger name, timestamp, the current span's ids."""
    event_dict["level"] = level
    event_dict["logger"] = logger
    event_dict["timestamp"] = _utc_timestamp()
    return add_trace_context(None, method_name, event_dict)


class _AccessLine:
    """What ``log_request`` needs to know of the configuration (set by ``configure_logging``)."""

    info_enabled = True
    json_stream: BinaryIO | None = None  # None: console format, go through structlog
    per_turn = False  # the server: write the access lines of one event-loop turn together


def _write(stream: BinaryIO, data: bytes) -> None:
    try:
        stream.write(data)
        stream.flush()
    except (OSError, ValueError):  # stdout closed or a broken pipe: lose the line, not the request
        return


_TURN_LINES_MAX = 128


class _TurnLines:
    """The access lines of the current event-loop turn, written in one call when it ends.

    A loaded server finishes several requests in one turn of its loop; one ``write`` for all
    of them saves a system call a request: about 1 us to /dev/null, and into a pipe, as a
    container runtime reads the service's output, 22 us of CPU a request (131 us against 109 us
    with tracing off in bench/asgi_overhead.py --log-pipe). A line waits at most until the
    loop's next turn, and a turn that finishes more than ``_TURN_LINES_MAX`` requests writes
    every time it has that many, which bounds the memory the lines hold. Only one loop batches:
    the first to log a request line after ``configure_logging(per_turn_writes=True)``, i.e. the
    server's; anywhere else (another thread's loop, no loop) a line is written at once.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stream: BinaryIO | None = None
        self.lines: list[bytes] = []

    def add(self, loop: asyncio.AbstractEventLoop, stream: BinaryIO, data: bytes) -> bool:
        """Queue ``data`` for the end of this turn; False if ``loop`` is not the batching one."""
        if loop is not self.loop:
            if self.loop is not None:
                return False
            self.loop = loop
        if not self.lines:
            self.stream = stream
            loop.call_soon(self.write)
        self.lines.append(data)
        if len(self.lines) >= _TURN_LINES_MAX:  # a long turn: write what it has so far
            self.write()
        return True

    def write(self) -> None:
        """Write the queued lines, in the order they were logged."""
        lines, self.lines = self.lines, []
        if lines and self.stream is not None:
            _write(self.stream, b"".join(lines))

    def reset(self) -> None:
        """Write what is queued and forget the loop (logging is being configured again)."""
        self.write()
        self.loop = None


_TURN = _TurnLines()


def flush_access_lines() -> None:
    """Write the access lines still waiting for the end of their loop turn.

    For the server's exit: a loop that stops, or is closed, does not run the pending write.
    """
    _TURN.write()


def log_request(logger: str, method: str, route: str, status: int, duration_ms: float) -> None:
    """Log the ``http.request`` line of one finished request, as ``logger`` at INFO.

    In JSON format the line is built here with the fields every line has (structlog's context
    variables, level, logger, timestamp, trace and span ids) and written in one ``write`` call,
    so lines from other threads never interleave with it; in the server, in one call with the
    other access lines of the same loop turn (``_TurnLines``). In console format, or once
    structlog has been reconfigured by someone else, it goes through structlog like any other
    line. A stream that can no longer be written loses the line; the request it describes is
    unharmed.
    """
    if not _AccessLine.info_enabled:
        return
    stream = _AccessLine.json_stream
    if stream is None or not structlog.is_configured():  # console, or structlog was reset
        structlog.get_logger(logger).info(
            "http.request", method=method, route=route, status=status, duration_ms=duration_ms
        )
        return
    line = structlog.contextvars.get_contextvars()
    line["event"] = "http.request"
    line["method"] = method
    line["route"] = route
    line["status"] = status
    line["duration_ms"] = duration_ms
    _stamp(line, "info", "info", logger)
    data = orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE)
    if _AccessLine.per_turn:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in a loop: write it now
            pass
        else:
            if _TURN.add(loop, stream, data):
                return
    _write(stream, data)


def _serialize_str(data: Any, **_: Any) -> str:
    return orjson.dumps(data, default=str).decode()


def _serialize_bytes(data: Any, **_: Any) -> bytes:
    return orjson.dumps(data, default=str)


class _TextOnto:
    """The text side of a binary stream, without owning (or ever closing) it."""

    def __init__(self, binary: BinaryIO) -> None:
        self._binary = binary

    def write(self, text: str) -> int:
        return self._binary.write(text.encode("utf-8"))

    def flush(self) -> None:
        self._binary.flush()


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "console"] = "json",
    stream: BinaryIO | None = None,
    *,
    cache_loggers: bool = False,
    per_turn_writes: bool = False,
) -> None:
    """Configure structlog and the stdlib root logger once, at start-up.

    Args:
        level: minimum level name for every logger (``"INFO"``, ``"DEBUG"``, ...).
        fmt: ``"json"`` for one JSON object per line, ``"console"`` for humans.
        stream: binary stream the lines go to; standard output when not given.
        cache_loggers: freeze each logger's pipeline on first use. Faster, but a logger
            then keeps writing to the stream it first saw, so only the long-running server
            turns it on (commands and tests that configure logging more than once do not).
        per_turn_writes: write the access lines of one turn of the server's event loop in one
            call, at the end of the turn (``_TurnLines``); the server calls
            ``flush_access_lines`` when its loop has stopped.
    """
    binary = stream if stream is not None else sys.stdout.buffer
    text = _TextOnto(binary)
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    _TURN.reset()  # lines queued for the old stream go there
    _AccessLine.per_turn = per_turn_writes
    _AccessLine.info_enabled = threshold <= logging.INFO
    _AccessLine.json_stream = binary if fmt == "json" else None
    shared: list[Processor] = [structlog.contextvars.merge_contextvars, _base_fields]
    if fmt == "console":
        renderer: Processor = structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.plain_traceback
        )
        final: list[Processor] = [renderer]
        factory: Any = structlog.WriteLoggerFactory(cast(TextIO, text))
    else:
        # Tracebacks as structured data, never with local variables (they leak secrets).
        exceptions = structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False)
        )
        final = [exceptions, structlog.processors.JSONRenderer(serializer=_serialize_str)]
        factory = structlog.BytesLoggerFactory(binary)

    native_final = (
        final
        if fmt == "console"
        else [final[0], structlog.processors.JSONRenderer(serializer=_serialize_bytes)]
    )
    structlog.reset_defaults()
    structlog.configure(
        processors=[*shared, *native_final],
        wrapper_class=structlog.make_filtering_bound_logger(level.upper()),
        logger_factory=factory,
        cache_logger_on_first_use=cache_loggers,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(text)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())

    for name in _ROUTED_TO_ROOT:
        stdlib_logger = logging.getLogger(name)
        stdlib_logger.handlers.clear()
        stdlib_logger.propagate = True
    for name in _SILENCED:
        stdlib_logger = logging.getLogger(name)
        stdlib_logger.handlers.clear()
        stdlib_logger.propagate = False
