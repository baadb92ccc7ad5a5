"""Idempotency-Key for unsafe requests: a pure-ASGI middleware and its stores."""

from .middleware import REPLAYED_HEADER, IdempotencyMiddleware
from .policy import Policy, idempotency
from .store import Claim, IdempotencyStore, MemoryIdempotencyStore, StoredResponse

__all__ = [
    "REPLAYED_HEADER",
    "Claim",
    "IdempotencyMiddleware",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "Policy",
    "StoredResponse",
    "idempotency",
]
