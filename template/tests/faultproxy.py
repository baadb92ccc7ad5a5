"""A TCP proxy on loopback, in its own thread, that injects the faults a caller must survive."""

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Literal

__all__ = ["FaultProxy", "free_port"]

Mode = Literal["pass", "latency", "reset", "blackhole"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """Forward 127.0.0.1:<port> to a real server; faults switch on while connections are open.

    ``mode``: ``pass`` forwards; ``latency`` delays each answer chunk by ``latency`` seconds;
    ``reset`` aborts with a TCP RST once the request is read; ``blackhole`` swallows everything.
    ``stalled`` holds answers back while True; ``reset_next(n)`` resets the next n connections;
    ``cut()`` refuses and drops connections until ``restore()``.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode: Mode = "pass"
        self.latency = 0.0
        self.stalled = False
        self.connections = 0
        self._resets_left = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def reset_next(self, count: int) -> None:
        """Reset the next ``count`` new connections, then go back to the current mode."""
        self._resets_left = count

    def restore(self) -> None:
        """Listen and forward again."""
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)

    def cut(self) -> None:
        """Stop listening (the port refuses connections) and drop every open connection."""
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(5)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._resets_left > 0 or self.mode == "reset":
            self._resets_left = max(0, self._resets_left - 1)
            with contextlib.suppress(OSError):
                await reader.read(65536)
                _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})
        await asyncio.gather(
            self._pipe(reader, up_writer, writer, back=False),
            self._pipe(up_reader, writer, writer, back=True),
        )
        self._writers.difference_update({writer, up_writer})

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        *,
        back: bool,
    ) -> None:
        try:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while chunk := await source.read(65536):
                    while back and self.stalled:  # noqa: ASYNC110 - a test's plain flag
                        await asyncio.sleep(0.01)
                    if self.mode == "blackhole":
                        continue  # swallow the request (or the late answer): nothing comes back
                    if self.mode == "reset":
                        _reset(client)
                        return
                    if back and self.mode == "latency":
                        await asyncio.sleep(self.latency)
                    sink.write(chunk)
                    await sink.drain()
        finally:
            sink.close()
