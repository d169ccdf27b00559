"""The route's parameters checked before a database connection is taken.

FastAPI solves a route's dependencies before it validates the route's own path, query,
header and cookie parameters, so a route that takes :data:`plugin.api.deps.ConnDep`
waited for a pooled connection (and answered 503 while PostgreSQL was down) before it
could say that ``limit=many`` is not a number. :func:`check_parameters` runs the same
validation FastAPI runs later (``request_params_to_args`` over the parameters of the
route and of each of its dependencies; no database, no I/O) and raises FastAPI's own
:class:`~fastapi.exceptions.RequestValidationError`, answered as the usual 422 problem
detail (:mod:`plugin.api.invalid_request`). Dependencies declared before the
connection (the admin and search credentials) still answer first; a request body is
still validated after the dependencies, as FastAPI does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

__all__ = ["check_parameters"]


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The route's dependant and those of its dependencies, depth first."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def check_parameters(request: Request) -> None:
    """Raise :class:`RequestValidationError` when a path, query, header or cookie
    parameter of the request's route does not validate; do nothing otherwise."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    errors: list[Any] = []
    for dependant in _dependants(route.dependant):
        for fields, received in (
            (dependant.path_params, request.path_params),
            (dependant.query_params, request.query_params),
            (dependant.header_params, request.headers),
            (dependant.cookie_params, request.cookies),
        ):
            if fields:
                errors.extend(request_params_to_args(fields, received)[1])
    if errors:
        raise RequestValidationError(errors)
