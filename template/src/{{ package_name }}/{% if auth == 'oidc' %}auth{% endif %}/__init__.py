"""Inbound authentication: OIDC bearer tokens verified at the edge, scopes checked per route."""

from .dev import dev_token, dev_token_command
from .edge import AuthMiddleware, auth_refusals, authorize, open_auth, operations
from .tokens import Principal, TokenRejectedError, Verifier

__all__ = [
    "AuthMiddleware",
    "Principal",
    "TokenRejectedError",
    "Verifier",
    "auth_refusals",
    "authorize",
    "dev_token",
    "dev_token_command",
    "open_auth",
    "operations",
]
