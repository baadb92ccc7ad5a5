"""The app served by uvicorn in a background thread: real sockets, real concurrency."""

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from .faultproxy import free_port

__all__ = ["LiveServer"]


class LiveServer:
    """``with LiveServer(app) as server:`` serves ``app`` on ``server.url`` until the block ends."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="none",
            loop="asyncio",
            backlog=256,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(15)
