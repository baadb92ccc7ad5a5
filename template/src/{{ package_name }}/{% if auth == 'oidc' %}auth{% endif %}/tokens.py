"""Bearer JWTs checked with PyJWT: signature by the issuer's key, iss, aud, exp, nbf; cached."""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

from .keys import KeySet

__all__ = ["MAX_TOKEN_BYTES", "Principal", "TokenRejectedError", "Verifier"]

MAX_TOKEN_BYTES = 8192  # larger tokens are refused before any parsing
MAX_CACHED = 10_000  # verified tokens kept (until they expire), oldest dropped first
# What a client is told; PyJWT's own messages stay out of responses.
_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidAudienceError, "The token is for another audience."),
    (jwt.InvalidIssuerError, "The token is from another issuer."),
    (jwt.InvalidAlgorithmError, "The token's algorithm is not accepted."),
    (jwt.InvalidSignatureError, "The token's signature does not verify."),
    (jwt.MissingRequiredClaimError, "The token lacks a required claim."),
]


class TokenRejectedError(Exception):
    """The bearer token is not acceptable; ``str(exc)`` is safe to show (never the token)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: subject, client (azp or client_id), scopes, and when it expires."""

    subject: str
    client_id: str | None
    scopes: frozenset[str]
    expires_at: float
    shown_as: str  # enduser.id in logs and spans: hashed or as-is (AUTH_IDENTITY)

    @property
    def key(self) -> str:
        """What scopes idempotency keys: the subject and the client it acts through."""
        return f"{self.subject}|{self.client_id or ''}"


class Verifier:
    """Checks tokens against ``keys``; a token verified once is answered from a bounded cache."""

    def __init__(
        self,
        keys: KeySet,
        *,
        audience: str,
        algorithms: Sequence[str],
        leeway: float = 30.0,
        hashed: bool = True,
    ) -> None:
        self.keys = keys
        self._audience, self._algorithms = audience, list(algorithms)
        self._leeway, self._hashed = leeway, hashed
        self._cache: dict[str, Principal] = {}

    async def verify(self, token: str) -> Principal:
        """The token's principal, or ``TokenRejectedError`` saying why (without the token)."""
        cached = self._cache.get(token)
        if cached is not None and time.time() < cached.expires_at + self._leeway:
            return cached
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejectedError("The token is too large.")
        try:
            header = jwt.get_unverified_header(token)  # jku and x5u are never followed
            kid = header.get("kid")
            found = await self.keys.get(kid) if isinstance(kid, str) else None
            if found is None:
                raise TokenRejectedError("The token's signing key is unknown.")
            key, issuer = found
            claims = jwt.decode(
                token,
                key,
                algorithms=[a for a in self._algorithms if a == key.algorithm_name],
                audience=self._audience,
                issuer=issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            reason = next((r for kind, r in _REASONS if isinstance(exc, kind)), None)
            raise TokenRejectedError(reason or "The token is malformed.") from None
        principal = self._principal(claims)
        if len(self._cache) >= MAX_CACHED:
            del self._cache[next(iter(self._cache))]
        self._cache[token] = principal
        return principal

    def _principal(self, claims: dict[str, object]) -> Principal:
        scope = claims.get("scope", claims.get("scp", ""))
        scopes = scope.split() if isinstance(scope, str) else scope
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise TokenRejectedError("The token's scopes are malformed.")
        subject, client = str(claims["sub"]), claims.get("azp", claims.get("client_id"))
        client_id = client if isinstance(client, str) else None
        shown = hashlib.sha256(subject.encode()).hexdigest()[:16] if self._hashed else subject
        exp = claims["exp"]
        expires_at = float(exp) if isinstance(exp, int | float) else 0.0
        return Principal(subject, client_id, frozenset(scopes), expires_at, shown)
