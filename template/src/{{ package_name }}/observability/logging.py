"""Structured logging: one JSON object per line on stdout, for our logs and the stdlib's.

structlog renders every record, whether it came from ``structlog.get_logger()`` or from a
stdlib logger (uvicorn, libraries), through one ``ProcessorFormatter`` on one handler.
"""

import logging
import sys
from typing import Any, Literal

import orjson
import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.types import EventDict, Processor, WrappedLogger

__all__ = ["configure_logging"]

# uvicorn's own access log is replaced by our middleware's "http.request" line.
_SILENCED = ("uvicorn.access",)
_ROUTED_TO_ROOT = ("uvicorn", "uvicorn.error", "fastapi")


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Uvicorn adds a duplicate of the message with terminal colour codes; drop it."""
    event_dict.pop("color_message", None)
    return event_dict


def _serialize(data: Any, **_: Any) -> str:
    return orjson.dumps(data, default=str).decode()


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "console"] = "json",
    stream: Any = None,
) -> None:
    """Configure structlog and the stdlib root logger once, at start-up.

    Args:
        level: minimum level name for every logger (``"INFO"``, ``"DEBUG"``, ...).
        fmt: ``"json"`` for one JSON object per line, ``"console"`` for humans.
        stream: where lines go; standard output when not given.
    """
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_color_message,
    ]
    renderer: Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        final: list[Processor] = [renderer]
    else:
        # Tracebacks as structured data, never with local variables (they leak secrets).
        exceptions = structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False)
        )
        final = [exceptions, structlog.processors.JSONRenderer(serializer=_serialize)]

    structlog.reset_defaults()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
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
