"""Per-route Idempotency-Key policy and the key's syntax (IETF httpapi draft)."""

import re
from collections.abc import Iterable
from typing import Any, Literal

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

Policy = Literal["required", "optional", "off"]

METHODS = frozenset({"POST", "PATCH"})
POLICY_EXTENSION = "x-idempotency-key"
MAX_KEY_LENGTH = 255
# An sf-string's characters, without the escapes (quote and backslash) and not starting blank.
_KEY = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e][\x20\x21\x23-\x5b\x5d-\x7e]*$")


def idempotency(policy: Policy) -> dict[str, Any]:
    """``openapi_extra`` for a route's Idempotency-Key policy: ``idempotency("required")``."""
    extra: dict[str, Any] = {POLICY_EXTENSION: policy}
    if policy != "off":
        extra["parameters"] = [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": policy == "required",
                "description": "Unique key of this operation; a retry with the same key and "
                "payload replays the first response (IETF httpapi Idempotency-Key).",
                # The syntax parse_key accepts, so that clients (and fuzzers) can tell.
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_KEY_LENGTH,
                    "pattern": _KEY.pattern,
                },
            }
        ]
    return extra


def policy_table(
    routes: Iterable[BaseRoute], default: Policy
) -> list[tuple[re.Pattern[str], frozenset[str], Policy]]:
    """Each route's methods and policy, from its ``openapi_extra`` (not the OpenAPI document).

    Building the document cost the first keyed request ~20 ms and is not thread-safe.
    """
    table: list[tuple[re.Pattern[str], frozenset[str], Policy]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            policy = (route.openapi_extra or {}).get(POLICY_EXTENSION, default)
            table.append((route.path_regex, frozenset(route.methods or ()), policy))
    return table


def parse_key(values: list[bytes]) -> str | None:
    """The key from the header values (an sf-string, quotes optional), or None if malformed."""
    if len(values) != 1:
        return None
    try:
        text = values[0].decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not 0 < len(text) <= MAX_KEY_LENGTH or not _KEY.match(text):
        return None
    return text
