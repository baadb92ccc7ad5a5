"""Idempotency-Key (IETF httpapi draft) for POST and PATCH: each keyed request runs once."""

import hashlib
import re
from collections.abc import Awaitable

import structlog
from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..problems import problem_response
from .policy import MAX_KEY_LENGTH, METHODS, Policy, parse_key, policy_table
from .store import IdempotencyStore, StoredResponse, new_token

__all__ = ["REPLAYED_HEADER", "IdempotencyMiddleware"]

HEADER = b"idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
# Headers that describe one delivery, not the resource: never stored or replayed.
_NOT_REPLAYED = frozenset({"date", "server", "set-cookie", "x-request-id"})

MAX_UNCONFIRMED = 10_000  # locks kept for release once a failed store answers again
_PROBLEMS = {
    "missing": (400, "This operation needs an Idempotency-Key header: a unique key per operation."),
    "malformed": (
        400,
        "Idempotency-Key must be one string of 1-{max_key} printable ASCII characters.",
    ),
    "too_large": (413, "Request bodies of keyed requests are limited to {max_body} bytes."),
    "mismatch": (422, "This Idempotency-Key was used with a different request payload."),
    "in_flight": (409, "A request with this Idempotency-Key is still in progress; retry later."),
    "unavailable": (503, "The idempotency store is unavailable; retry later with the same key."),
}

logger = structlog.get_logger(__name__)


class _DisconnectedError(Exception):
    """The client disconnected while its request body was being read."""


class IdempotencyMiddleware:
    """Run each keyed POST/PATCH once per client; replay, refuse or reject the repeats."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        router: Router,
        default_policy: Policy = "optional",
        client_header: str = "authorization",
        ttl: float = 86400.0,
        lock_ttl: float = 60.0,
        max_body: int = 1_048_576,
    ) -> None:
        self.app = app
        self._router = router
        self._default_policy = default_policy
        self._client_header = client_header.lower().encode("latin-1")
        self._ttl = ttl
        self._lock_ttl = lock_ttl
        self._max_body = max_body
        self._table: list[tuple[re.Pattern[str], frozenset[str], Policy]] | None = None
        self._unconfirmed: dict[tuple[str, str], None] = {}

    def _policy(self, method: str, path: str) -> Policy:
        if self._table is None:
            self._table = policy_table(self._router.routes, self._default_policy)
        known_path = False
        for regex, methods, policy in self._table:
            if regex.match(path):
                if method in methods:
                    return policy
                known_path = True
        if known_path:  # a method the path lacks: the router answers 405, nothing to replay
            return "off"
        return self._default_policy  # no route of this app (a mounted app, say)

    def _client(self, scope: Scope) -> str:
        subject: object = scope.get("state", {}).get("auth_subject")
        if isinstance(subject, str) and subject:
            return "sub:" + subject
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        for name, value in headers:
            if name == self._client_header:
                return "hdr:" + value.decode("latin-1")
        return "anonymous"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        policy = self._policy(scope["method"], scope["path"])
        if policy == "off":
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name == HEADER]
        key = parse_key(values) if values else None
        if key is not None:
            await self._keyed(scope, receive, send, key)
        elif values or policy == "required":
            await self._problem(scope, receive, send, "malformed" if values else "missing")
        else:
            await self.app(scope, receive, send)

    async def _keyed(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        store: IdempotencyStore | None = getattr(scope["app"].state, "idempotency", None)
        if store is None:
            raise RuntimeError("no idempotency store on app.state (the lifespan opens it)")
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self._max_body:
                await self._problem(scope, receive, send, "too_large")
                return
        try:
            body = await self._read_body(receive)
        except _DisconnectedError:
            return  # the client left before sending its body: nothing to run or answer
        if body is None:
            await self._problem(scope, receive, send, "too_large")
            return
        request = [scope["method"].encode(), scope["path"].encode(), scope["query_string"], body]
        fingerprint = hashlib.sha256(b"\0".join(request)).hexdigest()
        storage_key = hashlib.sha256(f"{self._client(scope)}\n{key}".encode()).hexdigest()
        token = new_token()
        try:
            await self._release_unconfirmed(store)
            claim = await store.begin(
                storage_key, fingerprint, token=token, lock_ttl=self._lock_ttl
            )
        except Exception as exc:  # an outage of the store degrades the request, never a 500
            # The lock may be written all the same: release it once the store answers again.
            self._unconfirmed[storage_key, token] = None
            if len(self._unconfirmed) > MAX_UNCONFIRMED:  # the oldest expire after lock_ttl
                del self._unconfirmed[next(iter(self._unconfirmed))]
            logger.warning("idempotency.store_unavailable", error=type(exc).__name__)
            await self._problem(scope, receive, send, "unavailable")
        else:
            if claim.outcome == "completed" and claim.response is not None:
                await _replay(claim.response, send)
            elif claim.outcome == "acquired":
                await self._run_once(scope, receive, send, store, storage_key, token, body)
            else:
                await self._problem(scope, receive, send, claim.outcome)

    async def _release_unconfirmed(self, store: IdempotencyStore) -> None:
        """Release the locks of attempts that failed with the store: raises while it is down."""
        for pair in list(self._unconfirmed):
            await store.release(*pair)
            self._unconfirmed.pop(pair, None)

    async def _run_once(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        store: IdempotencyStore,
        key: str,
        token: str,
        body: bytes,
    ) -> None:
        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        settled = False

        async def capture(message: Message) -> None:
            nonlocal status, headers, settled
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in _NOT_REPLAYED
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and status < 500:
                    # Kept before the client sees its end: a later retry is a replay, never 409.
                    response = StoredResponse(status, headers, b"".join(chunks))
                    settled = await _quietly(store.complete(key, token, response, ttl=self._ttl))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            if not settled and not await _quietly(store.release(key, token)):
                self._unconfirmed[key, token] = None  # else it expires after lock_ttl

    async def _read_body(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _DisconnectedError
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _problem(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        status, detail = _PROBLEMS[name]
        detail = detail.format(max_body=self._max_body, max_key=MAX_KEY_LENGTH)
        headers = {"Retry-After": "1"} if status in {409, 503} else None
        request_id = scope.get("state", {}).get("request_id")
        response = problem_response(status, detail, request_id=request_id, headers=headers)
        await response(scope, receive, send)


async def _quietly(operation: Awaitable[None]) -> bool:
    """Run a store write; False, and a warning logged, if the store failed."""
    try:
        await operation
    except Exception as exc:
        logger.warning("idempotency.store_failed", error=type(exc).__name__)
        return False
    return True


async def _replay(response: StoredResponse, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((REPLAYED_HEADER.encode(), b"true"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})
