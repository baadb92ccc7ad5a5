"""Limits on a request body as it is read (size, pace, one value per JSON key), in ``receive``."""

import asyncio
import contextlib
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

__all__ = ["BodyRefusedError", "guarded", "too_large"]

_SLOW_BODY = "The request body did not arrive in time."


def too_large(limit: int) -> str:
    """The detail of a 413."""
    return f"The request body is larger than {limit} bytes."


class BodyRefusedError(HTTPException):
    """A body refused as it is read; an ``HTTPException`` so FastAPI's parsing lets it through."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: the object, unless a key repeats in it."""
    result = dict(pairs)
    if len(result) != len(pairs):
        names = [key for key, _ in pairs]
        key = next(key for key in names if names.count(key) > 1)
        raise BodyRefusedError(422, f"The JSON body repeats the key {key!r} in one object.")
    return result


def guarded(
    receive: Receive, limit: int, json_body: bool, timeouts: tuple[float, float]
) -> Receive:
    """``receive`` refusing a body too large (413), too slow (408) or repeating a JSON key (422)."""
    received = 0
    parts: list[bytes] = []
    clock = asyncio.get_running_loop().time
    deadline = clock() + timeouts[0]

    async def checked() -> Message:
        nonlocal received
        if received < 0:  # the body is complete: wait for the disconnect as long as it takes
            return await receive()
        try:
            async with asyncio.timeout_at(min(deadline, clock() + timeouts[1])):
                message = await receive()
        except TimeoutError:
            raise BodyRefusedError(408, _SLOW_BODY, {"Connection": "close"}) from None
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise BodyRefusedError(413, too_large(limit))
            if message.get("more_body", False):
                if json_body:
                    parts.append(chunk)
                return message
            received = -1
            if json_body:
                with contextlib.suppress(ValueError, RecursionError):  # the handler says why
                    json.loads(b"".join((*parts, chunk)), object_pairs_hook=_unique_keys)
        return message

    return checked
