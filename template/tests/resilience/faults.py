"""A scripted HTTP/1.1 upstream on loopback that records what it received."""

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Reply", "ScriptedUpstream", "Seen", "token_reply"]


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b'{"available": 7}'
    headers: dict[str, str] = field(default_factory=dict)


def token_reply(token: str, expires_in: float = 3600, scheme: str = "Bearer") -> Reply:
    """A token endpoint's answer (RFC 6749 5.1)."""
    answer = {"access_token": token, "token_type": scheme, "expires_in": expires_in}
    return Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Seen:
    """One request as the upstream received it."""

    method: str
    path: str
    headers: dict[str, str]
    at: float
    body: bytes = b""


class ScriptedUpstream:
    """An HTTP/1.1 server (keep-alive, Content-Length bodies) answering from a script."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.seen: list[Seen] = []

    def answer(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, then with ``default``."""
        self.script.extend(replies)

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
        while request_line := await reader.readline():
            method, path, _ = request_line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.seen.append(Seen(method, path, headers, time.monotonic(), body))
            reply = self.script.popleft() if self.script else self.default
            head = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {len(reply.body)}"]
            head += [f"{name}: {value}" for name, value in reply.headers.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
