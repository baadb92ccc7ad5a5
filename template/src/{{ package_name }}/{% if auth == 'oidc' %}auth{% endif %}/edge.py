"""Bearer tokens at the edge: a middleware verifies them, ``Security`` dependencies authorize."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.openapi.models import OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from opentelemetry import trace
from starlette.types import ASGIApp, Receive, Scope, Send

from ..health import HealthRegistry
from ..problems import problem_response
from ..settings import Settings
from .dev import DEV_ISSUER, dev_key, trusts_dev_key
from .keys import KeySet
from .tokens import Principal, TokenRejectedError, Verifier

__all__ = ["AuthMiddleware", "auth_refusals", "authorize", "open_auth", "operations"]

# In the OpenAPI document: an OAuth2 scheme whose per-operation scopes are the route's.
BEARER = OAuth2(
    flows=OAuthFlows(),
    scheme_name="oidc",
    description="Bearer JWT from the issuer in AUTH_ISSUER (OIDC discovery); "
    "in development, from `python -m <package> dev-token --scope ...`.",
    auto_error=False,
)


def _challenge(realm: str, error: str | None = None, detail: str = "", scope: str = "") -> str:
    """A ``WWW-Authenticate`` value (RFC 6750); the detail never quotes the token."""
    value = f'Bearer realm="{realm}"'
    if error:
        value += f', error="{error}", error_description="{detail.rstrip(".")}"'
    return value + (f', scope="{scope}"' if scope else "")


class AuthMiddleware:
    """Verify a presented bearer token before anything else runs (idempotency keys use it)."""

    def __init__(self, app: ASGIApp, *, realm: str) -> None:
        self.app = app
        self.realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name == b"authorization"]
        if not values:  # anonymous: routes that need scopes answer 401 (see ``authorize``)
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        status, error, detail = 400, "invalid_request", "Send one Authorization header."
        scheme, _, token = values[0].decode("latin-1").partition(" ")
        if len(values) == 1 and scheme.lower() == "bearer" and token.strip():
            verifier: Verifier = scope["app"].state.auth
            try:
                principal = await verifier.verify(token.strip())
            except TokenRejectedError as exc:
                status, error, detail = 401, "invalid_token", str(exc)
            else:
                state["auth_principal"], state["auth_subject"] = principal, principal.key
                # No reset: the access line, logged after this returns, carries it too.
                structlog.contextvars.bind_contextvars(enduser_id=principal.shown_as)
                trace.get_current_span().set_attribute("enduser.id", principal.shown_as)
                await self.app(scope, receive, send)
                return
        elif len(values) == 1:
            status, error, detail = 401, "invalid_request", "Use the Bearer scheme."
        headers = {"WWW-Authenticate": _challenge(self.realm, error, detail)}
        request_id = state.get("request_id")
        await problem_response(status, detail, request_id=request_id, headers=headers)(
            scope, receive, send
        )


async def authorize(
    request: Request, required: SecurityScopes, _: Annotated[str | None, Depends(BEARER)]
) -> Principal:
    """The verified caller, if its token grants every scope the route declares: else 401/403."""
    principal: Principal | None = request.scope.get("state", {}).get("auth_principal")
    realm = request.app.state.settings.service_name
    if principal is None:
        headers = {"WWW-Authenticate": _challenge(realm)}
        raise HTTPException(401, "This operation needs a bearer token.", headers=headers)
    if missing := [s for s in required.scopes if s not in principal.scopes]:
        detail = f"The token lacks the scope {' '.join(missing)}."
        challenge = _challenge(realm, "insufficient_scope", detail, required.scope_str)
        raise HTTPException(403, detail, headers={"WWW-Authenticate": challenge})
    return principal


async def operations(request: Request) -> None:
    """/metrics and /info: open, unless AUTH_OPERATIONS_SCOPE names the scope they need."""
    settings: Settings = request.app.state.settings
    if settings.auth_operations_scope is not None:
        await authorize(request, SecurityScopes([settings.auth_operations_scope]), None)


def auth_refusals(settings: Settings) -> list[str]:
    """What production refuses: no issuer whose tokens to trust."""
    return [] if settings.auth_issuer else ["production needs AUTH_ISSUER to verify tokens"]


@asynccontextmanager
async def open_auth(settings: Settings, registry: HealthRegistry) -> AsyncIterator[Verifier]:
    """The verifier: issuer keys via an ``oidc`` upstream client, plus the dev key outside prod."""
    fixed = {}
    if trusts_dev_key(settings):
        try:
            kid, key = dev_key(settings.auth_dev_key_file)
            fixed[kid] = (key, DEV_ISSUER)
        except OSError as exc:  # a read-only directory, say: no dev tokens, the rest works
            structlog.get_logger(__name__).warning("auth.dev_key_unavailable", error=str(exc))
    async with AsyncExitStack() as stack:
        upstream = None
        if settings.auth_issuer is not None:
            from ..resilience.http import Upstream, UpstreamConfig

            config = UpstreamConfig.from_settings(settings, "oidc", settings.auth_issuer)
            upstream = Upstream(config)
            stack.push_async_callback(upstream.aclose)
        keys = KeySet(
            fixed,
            issuer=settings.auth_issuer,
            jwks_url=settings.auth_jwks_url,
            upstream=upstream,
            min_refresh=settings.auth_jwks_min_refresh,
        )
        registry.register("auth", keys.check)
        yield Verifier(
            keys,
            audience=settings.auth_audience,
            algorithms=settings.auth_algorithms,
            leeway=settings.auth_leeway,
            hashed=settings.auth_identity == "hashed",
        )
