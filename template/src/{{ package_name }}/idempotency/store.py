"""The idempotency store protocol (a lock's token is drawn before ``begin``), and memory store."""

import base64
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

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
        body = base64.b64encode(self.body).decode()
        return {"status": self.status, "headers": self.headers, "body": body}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StoredResponse":
        """The inverse of ``to_json``."""
        headers = [(str(k), str(v)) for k, v in data["headers"]]
        return cls(int(data["status"]), headers, base64.b64decode(data["body"]))


@dataclass(frozen=True)
class Claim:
    """The answer of ``IdempotencyStore.begin``."""

    outcome: Outcome
    response: StoredResponse | None = None


def new_token() -> str:
    """A random token that identifies one attempt's lock on a key."""
    return uuid.uuid4().hex


def decide(record: dict[str, Any], fingerprint: str) -> Claim:
    """What an existing record means for a request with this fingerprint."""
    if record.get("fp") != fingerprint:
        return Claim("mismatch")
    if record.get("state") == "completed" and record.get("response") is not None:
        return Claim("completed", StoredResponse.from_json(record["response"]))
    return Claim("in_flight")


class IdempotencyStore(Protocol):
    """Atomic claim, completion and release of idempotency keys."""

    async def begin(self, key: str, fingerprint: str, *, token: str, lock_ttl: float) -> Claim:
        """Lock ``key`` under ``token`` for this request, or say what the key already holds."""

    async def complete(self, key: str, token: str, response: StoredResponse, *, ttl: float) -> None:
        """Replace the lock held under ``token`` with the response, kept ``ttl`` seconds."""

    async def release(self, key: str, token: str) -> None:
        """Drop the lock if ``token`` holds it, so that the request can be retried."""


class MemoryIdempotencyStore:
    """Keys in this process's memory: for development and tests only (refused in production)."""

    SWEEP_EVERY = 1024  # expired keys are dropped when read, and in a sweep every this many claims

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
        expires, record = self._records.get(key, (0.0, None))
        return record if expires > time.monotonic() else None

    async def begin(self, key: str, fingerprint: str, *, token: str, lock_ttl: float) -> Claim:
        """Lock ``key`` under ``token`` for this request, or say what the key already holds."""
        self._claims += 1
        if self._claims % self.SWEEP_EVERY == 0:
            self.sweep()
        record = self._get(key)
        if record is not None:
            return decide(record, fingerprint)
        lock = {"state": "in_flight", "fp": fingerprint, "token": token}
        self._records[key] = (time.monotonic() + lock_ttl, lock)
        return Claim("acquired")

    async def complete(self, key: str, token: str, response: StoredResponse, *, ttl: float) -> None:
        """Replace the lock held under ``token`` with the response, kept ``ttl`` seconds."""
        record = self._get(key)
        if record is not None and record.get("token") == token:
            done = {**record, "state": "completed", "response": response.to_json()}
            self._records[key] = (time.monotonic() + ttl, done)

    async def release(self, key: str, token: str) -> None:
        """Drop the lock if ``token`` holds it, so that the request can be retried."""
        record = self._get(key)
        if record is not None and record.get("token") == token:
            del self._records[key]
