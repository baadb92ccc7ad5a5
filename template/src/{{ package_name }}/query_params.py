"""One value per scalar query parameter: ``?offset=1&offset=7`` is refused, not half-read.

Starlette keeps every value of a repeated query parameter, and FastAPI hands a scalar
parameter the last one, so ``?limit=1&limit=100`` quietly means 100. A client that repeats a
parameter has a bug or is probing, and either way it should hear so: ``add_routes`` gives each
route with scalar query parameters the dependency made here, which answers a repeat with a
problem+json 422 naming the parameter. List parameters (``tags: list[str]``) may still repeat.
Routes without scalar query parameters get no dependency and pay nothing.
"""

import collections.abc
import types
import typing
from collections.abc import Awaitable, Callable, Iterator

from fastapi import Request, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

__all__ = ["single_value_check", "single_value_names"]

_SEQUENCES = (
    list,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.Set,
    collections.abc.Collection,
    collections.abc.Iterable,
)


def _takes_many(annotation: object) -> bool:
    """Whether a parameter of this type is read from every value (FastAPI's rule)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_many(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_takes_many(arm) for arm in typing.get_args(annotation))
    kind = origin if isinstance(origin, type) else annotation
    if not isinstance(kind, type) or issubclass(kind, (str, bytes)):
        return False
    return issubclass(kind, _SEQUENCES)


def _query_fields(dependant: Dependant) -> Iterator[tuple[str, object]]:
    """(name in the query string, type) for each query parameter of a route and its dependencies."""
    seen: set[int] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for field in current.query_params:
            annotation = field.field_info.annotation
            model = typing.get_args(annotation)[0] if _is_annotated(annotation) else annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                # A query parameter model: its fields are the query string's names.
                for name, info in model.model_fields.items():
                    yield info.alias or name, info.annotation
            else:
                yield field.alias, annotation
        pending.extend(current.dependencies)


def _is_annotated(annotation: object) -> bool:
    return typing.get_origin(annotation) is typing.Annotated


def single_value_names(route: APIRoute) -> frozenset[str]:
    """The query parameters of ``route`` that take one value."""
    return frozenset(
        name for name, annotation in _query_fields(route.dependant) if not _takes_many(annotation)
    )


def single_value_check(route: APIRoute) -> params.Depends | None:
    """A dependency refusing repeats of the route's scalar query parameters (None: it has none)."""
    names = single_value_names(route)
    if not names:
        return None
    return params.Depends(_refuse_repeats(names))


def _refuse_repeats(names: frozenset[str]) -> Callable[[Request], Awaitable[None]]:
    async def refuse_repeated_query_parameters(request: Request) -> None:
        # Async, so FastAPI calls it on the event loop rather than in its thread pool.
        params = request.query_params
        pairs = params.multi_items()
        if len(pairs) == len(params):  # every name once: the usual case, one comparison
            return
        errors = []
        for name in sorted(names):
            count = len(params.getlist(name))
            if count > 1:
                errors.append(
                    {
                        "type": "repeated_value",
                        "loc": ("query", name),
                        "msg": f"Give this parameter once; it was given {count} times",
                        "input": None,
                    }
                )
        if errors:
            raise RequestValidationError(errors)

    return refuse_repeated_query_parameters
