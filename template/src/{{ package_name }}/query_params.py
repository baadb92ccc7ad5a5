"""One value per scalar query parameter: ``?limit=1&limit=100`` is a 422, not quietly 100."""

import collections.abc
import types
import typing
from collections.abc import Iterator

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

__all__ = ["refuse_repeated_query_parameters", "single_value_names"]


def _takes_many(annotation: object) -> bool:
    """Whether a parameter of this type is read from every value (FastAPI's rule)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_many(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_takes_many(arm) for arm in typing.get_args(annotation))
    kind = origin if isinstance(origin, type) else annotation
    if not isinstance(kind, type) or issubclass(kind, str | bytes):
        return False
    return issubclass(kind, collections.abc.Iterable)


def _query_fields(dependant: Dependant) -> Iterator[tuple[str, object]]:
    """(name in the query string, type) for each query parameter of a route and its dependencies."""
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        model = annotation
        if typing.get_origin(annotation) is typing.Annotated:
            model = typing.get_args(annotation)[0]
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query parameter model
            for name, info in model.model_fields.items():
                yield info.alias or name, info.annotation
        else:
            yield field.alias, annotation
    for dependency in dependant.dependencies:
        yield from _query_fields(dependency)


def single_value_names(route: APIRoute) -> frozenset[str]:
    """The query parameters of ``route`` that take one value."""
    fields = _query_fields(route.dependant)
    return frozenset(name for name, annotation in fields if not _takes_many(annotation))


async def refuse_repeated_query_parameters(request: Request) -> None:
    """Raise a 422 when a scalar query parameter of the matched route is given more than once."""
    params = request.query_params
    route = request.scope.get("route")
    if len(params.multi_items()) == len(params) or not isinstance(route, APIRoute):
        return
    errors = [
        {
            "type": "repeated_value",
            "loc": ("query", name),
            "msg": f"Give this parameter once; it was given {count} times",
            "input": None,
        }
        for name in sorted(single_value_names(route))
        if (count := len(params.getlist(name))) > 1
    ]
    if errors:
        raise RequestValidationError(errors)
