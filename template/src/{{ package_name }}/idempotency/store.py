"""What an idempotency store does, the records it keeps, and the in-memory store.

A store answers one question atomically: "may this request run, or has it run already?"
``begin`` either takes a short lock on the key (the caller runs the request, then calls
``complete`` or ``release``) or reports what is there: a request still in flight, a request with
a different fingerprint, or the stored response to replay.
"""

import base64
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

__all__ = ["Claim", "IdempotencyStore", "MemoryIdempotencyStore", "StoredResponse", "new_token"]

Outcome = Literal["acquired", "in_flight", "mismatch", "completed"]


@dataclass(frozen=True)
class StoredResponse:
    """A response kept for replay: status, headers and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (the body base64-encoded)."""
        return {
            "status": self.status,
            "headers": self.headers,
            "body": base64.b64encode(self.body).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StoredResponse":
        """The inverse of ``to_json``."""
        return cls(
            status=int(data["status"]),
            headers=[(str(k), str(v)) for k, v in data["headers"]],
            body=base64.b64decode(data["body"]),
        )


@dataclass(frozen=True)
class Claim:
    """The answer of ``IdempotencyStore.begin``."""

    outcome: Outcome
    token: str | None = None
    response: StoredResponse | None = None


def new_token() -> str:
    """A random token that identifies one holder of a key's lock."""
    return uuid.uuid4().hex


def decide(record: dict[str, Any], fingerprint: str) -> Claim:
    """What an existing record means for a request with this fingerprint."""
    if record.get("fp") != fingerprint:
        return Claim("mismatch")
    if record.get("state") == "completed" and record.get("response") is not None:
        return Claim("completed", response=StoredResponse.from_json(record["response"]))
    return Claim("in_flight")


def encode(record: dict[str, Any]) -> bytes:
    """Serialise a record."""
    return orjson.dumps(record)


def decode(raw: bytes | str) -> dict[str, Any]:
    """Deserialise a record."""
    data: dict[str, Any] = orjson.loads(raw)
    return data


class IdempotencyStore(Protocol):
    """Atomic claim, completion and release of idempotency keys."""

    async def begin(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        """Lock ``key`` for this request, or say what the key already holds."""
        ...

    async def complete(self, key: str, token: str, response: StoredResponse, *, ttl: float) -> None:
        """Replace the lock with the response, kept for ``ttl`` seconds."""
        ...

    async def release(self, key: str, token: str) -> None:
        """Drop the lock so that the request can be retried (it failed)."""
        ...


class MemoryIdempotencyStore:
    """Keys in this process's memory: for development and tests only (refused in production)."""

    # Expired keys are dropped when read, and in a sweep every this many claims.
    SWEEP_EVERY = 1024

    def __init__(self) -> None:
        self._records: dict[str, tuple[float, dict[str, Any]]] = {}
        self._claims = 0

    def sweep(self) -> int:
        """Drop every expired key; return how many there were."""
        now = time.monotonic()
        expired = [key for key, (expires, _) in self._records.items() if expires <= now]
        for key in expired:
            del self._records[key]
        return len(expired)

    def _get(self, key: str) -> dict[str, Any] | None:
        entry = self._records.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._records[key]
            return None
        return entry[1]

    async def begin(self, key: str, fingerprint: str, *, lock_ttl: float) -> Claim:
        """Lock ``key`` for this request, or say what the key already holds."""
        self._claims += 1
        if self._claims % self.SWEEP_EVERY == 0:
            self.sweep()
        record = self._get(key)
        if record is not None:
            return decide(record, fingerprint)
        token = new_token()
        self._records[key] = (
            time.monotonic() + lock_ttl,
            {"state": "in_flight", "fp": fingerprint, "token": token},
        )
        return Claim("acquired", token=token)

    async def complete(self, key: str, token: str, response: StoredResponse, *, ttl: float) -> None:
        """Replace the lock with the response, kept for ``ttl`` seconds."""
        record = self._get(key)
        if record is None or record.get("token") != token:
            return
        completed = {**record, "state": "completed", "response": response.to_json()}
        self._records[key] = (time.monotonic() + ttl, completed)

    async def release(self, key: str, token: str) -> None:
        """Drop the lock so that the request can be retried (it failed)."""
        record = self._get(key)
        if record is not None and record.get("token") == token:
            del self._records[key]
