"""``python -m <package> [serve|migrate|dev-token|...]``: serve with uvicorn, or run a command."""

import gc

if __name__ == "__main__":
    # Start-up allocates what lives as long as the process: no collection until serve() freezes
    # it all (collecting its ~90,000 objects again and again cost ~0.1 s of every start).
    gc.disable()

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import structlog
import uvicorn
from pydantic import ValidationError

from . import __version__
from .app import create_app
from .health import Lifecycle
from .observability.logging import configure_logging
from .observability.tracing import TracingConfigError, configure_tracing, shutdown_tracing
from .protocol import ProblemHttpToolsProtocol
from .settings import get_settings
from .stores import COMMANDS, COMMANDS_WITH_OPTIONS

logger = structlog.get_logger(f"{__package__}.server")


class _Server(uvicorn.Server):
    """A uvicorn server that marks the service not-ready the moment a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, delay: float) -> None:
        super().__init__(config)
        self._lifecycle = lifecycle
        self._delay = delay

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, but a drained stop exits 0 (the signal is not raised again: no 143)."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only
            return
        previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler, maybe mid log write on this thread: logging here could deadlock.
        if not self._lifecycle.shutting_down:
            self._lifecycle.begin_shutdown()
            with contextlib.suppress(RuntimeError):  # no running loop yet: just stop
                loop = asyncio.get_running_loop()
                loop.call_soon_threadsafe(self._announce_stop, sig)
                if self._delay > 0:
                    # Keep serving (readiness at 503) so load balancers stop routing here first.
                    stop = super().handle_exit
                    loop.call_soon_threadsafe(loop.call_later, self._delay, stop, sig, frame)
                    return
        super().handle_exit(sig, frame)

    def _announce_stop(self, sig: int) -> None:
        logger.info("service.stopping", signal=signal.Signals(sig).name, delay_s=self._delay)


def serve() -> int:
    """Serve until SIGTERM/SIGINT, then drain in-flight requests and exit."""
    try:
        settings = get_settings()
    except ValidationError as exc:  # say which settings are wrong, never their values
        configure_logging("INFO", "json")
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        errors = [{"setting": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in problems]
        logger.error("settings.invalid", errors=errors)
        return 2
    configure_logging(settings.log_level, settings.log_format, cache_loggers=True)
    # First, so that a store refusal is the only line logged (the tracer proxy follows later).
    app = create_app(settings)
    try:
        provider = configure_tracing(
            service_name=settings.service_name,
            service_version=__version__,
            environment=settings.app_env,
        )
    except TracingConfigError as exc:
        logger.error("tracing.misconfigured", error=str(exc))
        return 2
    ProblemHttpToolsProtocol.hsts_max_age = settings.hsts_max_age
    ProblemHttpToolsProtocol.header_timeout = settings.header_read_timeout
    config = uvicorn.Config(
        app,
        http=ProblemHttpToolsProtocol,  # malformed HTTP gets a problem+json 400 too
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        lifespan="on",
    )
    server = _Server(config, app.state.lifecycle, settings.shutdown_delay)
    # Start-up objects live as long as the process: frozen (not collected first: none is
    # garbage), and gen-0 collected every 10,000 allocations, not 700 (without it the
    # drain-under-load shutdown test misses its bound).
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    gc.enable()
    try:
        server.run()
    finally:
        shutdown_tracing(provider)  # flush the spans still queued
    return 0 if server.started else 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog=__package__, description=__doc__)
    commands = ["serve", *COMMANDS, *COMMANDS_WITH_OPTIONS]
    parser.add_argument("command", nargs="?", default="serve", choices=commands)
    parsed, options = parser.parse_known_args(argv)
    if parsed.command in COMMANDS_WITH_OPTIONS:
        return COMMANDS_WITH_OPTIONS[parsed.command](options)
    if options:
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    if parsed.command in COMMANDS:
        gc.enable()
        return COMMANDS[parsed.command]()
    return serve()


if __name__ == "__main__":
    sys.exit(main())
