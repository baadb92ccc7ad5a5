"""RFC 9457 problem+json: the only shape of an error body; nothing internal reaches a client."""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"

_STRING = {"type": "string"}
# The JSON Schema of every error body in the OpenAPI document (extension members allowed).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": _STRING,
        "title": _STRING,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": _STRING,
        "request_id": _STRING,
        "errors": {
            "type": "array",
            "description": "One entry per invalid field (validation errors only).",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {"field": _STRING, "message": _STRING, "type": _STRING},
            },
        },
    },
}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(
    status: int, detail: str | None = None, *, request_id: str | None = None, **extensions: Any
) -> dict[str, Any]:
    """A problem document: ``about:blank`` with the status code's reason phrase as title."""
    body: dict[str, Any] = {"type": "about:blank", "title": _reason(status), "status": status}
    if detail:
        body["detail"] = detail
    if request_id:
        body["request_id"] = request_id
    return body | extensions


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A ``Response`` carrying a problem document."""
    body = orjson.dumps(problem_body(status, detail, request_id=request_id, **extensions))
    return Response(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_responses(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring problem+json bodies, e.g. ``{404: "No such item"}``."""
    content = {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}
    return {
        status: {"description": text, "content": content} for status, text in descriptions.items()
    }


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _allowed_methods(request: Request) -> str | None:
    """Every method some route accepts for this path (Starlette names only the first route's)."""
    allowed = [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed) or None


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail if exc.detail != _reason(exc.status_code) else None
    headers = exc.headers
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED and (allowed := _allowed_methods(request)):
        headers = {**(headers or {}), "Allow": allowed}
    return problem_response(
        exc.status_code, detail, request_id=_request_id(request), headers=headers
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    detail = f"Request validation failed: {', '.join(e['field'] for e in errors) or 'request'}"
    return problem_response(422, detail, request_id=_request_id(request), errors=errors)


def install_problem_handlers(app: FastAPI) -> None:
    """Render HTTP and validation errors as problem+json (unhandled errors: see middleware)."""
    app.exception_handler(HTTPException)(_http_exception)
    app.exception_handler(RequestValidationError)(_validation_error)
