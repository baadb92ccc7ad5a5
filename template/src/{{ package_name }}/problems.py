"""RFC 9457 problem details: the only shape an error response takes.

Every 4xx and 5xx body is ``application/problem+json`` and carries the request's id. Nothing
internal (tracebacks, exception text, the offending input) ever reaches a client.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_SCHEMA",
    "install_problem_handlers",
    "problem_body",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"

# The JSON Schema of every error body, for the OpenAPI document (see ``problem_responses``).
# Extension members (``errors``, a readiness report, ...) are allowed beside the RFC's own.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "One entry per invalid field (validation errors only).",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

logger = structlog.get_logger(__name__)


def problem_body(
    status: int,
    detail: str | None = None,
    *,
    request_id: str | None = None,
    title: str | None = None,
    type_: str = "about:blank",
    **extensions: Any,
) -> dict[str, Any]:
    """Build a problem document; ``title`` defaults to the status code's reason phrase."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _reason(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return body


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A ``Response`` carrying a problem document."""
    body = problem_body(status, detail, request_id=request_id, **extensions)
    return Response(
        content=orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def problem_responses(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring problem+json bodies, e.g. ``{404: "No such item"}``.

    Routes and routers pass it as ``responses=`` so that the document says what the service
    really answers (FastAPI's default 422 is ``application/json`` in another shape).
    """
    return {
        status: {"description": text, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
        for status, text in descriptions.items()
    }


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str | None:
    """Every method some route accepts for this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed) or None


def _field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    return ".".join(str(part) for part in loc)


async def _http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover - registered for it
        raise exc
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if detail == _reason(exc.status_code):
        detail = None
    headers = exc.headers
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        allowed = _allowed_methods(request)
        if allowed:
            headers = {**(headers or {}), "Allow": allowed}
    return problem_response(
        exc.status_code, detail, request_id=_request_id(request), headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for it
        raise exc
    errors = [
        {
            "field": _field_path(err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    fields = ", ".join(e["field"] for e in errors) or "request"
    return problem_response(
        422,
        f"Request validation failed: {fields}",
        request_id=_request_id(request),
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render HTTP and validation errors as problem+json (unhandled errors: see middleware)."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
