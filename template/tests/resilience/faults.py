"""Real sockets for the fault tests: a scripted HTTP/1.1 upstream and a TCP fault proxy.

``ScriptedUpstream`` is a small but real HTTP server on loopback that answers from a script and
records what it received. ``FaultProxy`` sits between the client and it and injects the faults
that matter to a caller: added latency, connection resets and a blackhole (the connection is
accepted, the request swallowed, and nothing ever comes back).
"""

import asyncio
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FaultProxy", "Reply", "ScriptedUpstream", "Seen"]


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b'{"available": 7}'
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One request as the upstream received it."""

    method: str
    path: str
    headers: dict[str, str]
    at: float


class _LoopbackServer:
    """A TCP server on a free loopback port whose connections end when it closes."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._tracked, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end every connection."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _tracked(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class ScriptedUpstream(_LoopbackServer):
    """An HTTP/1.1 server (keep-alive, Content-Length bodies) answering from a script."""

    def __init__(self) -> None:
        super().__init__()
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.seen: list[Seen] = []

    def answer(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, then with ``default``."""
        self.script.extend(replies)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while request_line := await reader.readline():
            method, path, _ = request_line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            await reader.readexactly(int(headers.get("content-length", "0")))
            self.seen.append(Seen(method, path, headers, time.monotonic()))
            reply = self.script.popleft() if self.script else self.default
            head = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {len(reply.body)}"]
            head += [f"{name}: {value}" for name, value in reply.headers.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()


Mode = Literal["pass", "latency", "reset", "blackhole"]


class FaultProxy(_LoopbackServer):
    """A TCP proxy on loopback whose behaviour can be switched while connections are open.

    Modes: ``pass`` forwards bytes; ``latency`` delays each chunk coming back by ``latency``
    seconds; ``reset`` reads the request, then aborts the connection with a TCP RST;
    ``blackhole`` reads and drops everything and never answers. The mode applies to pooled
    connections too, at their next chunk. ``reset_next(n)`` resets only the next n connections.
    """

    def __init__(self, target_port: int) -> None:
        super().__init__()
        self.target_port = target_port
        self.mode: Mode = "pass"
        self.latency = 0.0
        self.connections = 0
        self._resets_left = 0

    def reset_next(self, count: int) -> None:
        """Reset the next ``count`` new connections, then go back to the current mode."""
        self._resets_left = count

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._resets_left > 0 or self.mode == "reset":
            self._resets_left = max(0, self._resets_left - 1)
            await reader.read(65536)
            self._reset(writer)
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, writer, outbound=True),
                self._pipe(up_reader, writer, writer, outbound=False),
            )
        finally:
            up_writer.close()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
        *,
        outbound: bool,
    ) -> None:
        while chunk := await source.read(65536):
            if self.mode == "blackhole":
                continue  # swallow the request (or the late answer): the caller hears nothing
            if self.mode == "reset":
                self._reset(client)
                return
            if self.mode == "latency" and not outbound:
                await asyncio.sleep(self.latency)
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
