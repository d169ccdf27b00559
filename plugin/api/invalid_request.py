"""FastAPI's own 422, for a request whose parameters or body do not validate, as a
problem detail like every other error (:mod:`plugin.api.problems`).

The body keeps a string ``detail`` (the first field errors in words) and lists every
field error in ``errors`` (``loc``, ``msg``, ``type``: what FastAPI's default answer
gives, less the rejected ``input``, which may quote data). The OpenAPI schema says so:
every operation's 422 is ``application/problem+json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from plugin.api.problems import PROBLEM_JSON, problem_response

__all__ = ["install_invalid_request_handler"]

#: Field errors named in ``detail``; ``errors`` lists all of them.
DETAIL_ERRORS = 3

_SCHEMA_REF = "#/components/schemas/HTTPValidationError"
_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "description": "A problem detail (RFC 9457) with the request's field errors",
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string", "title": "Type"},
        "title": {"type": "string", "title": "Title"},
        "status": {"type": "integer", "title": "Status"},
        "detail": {"type": "string", "title": "Detail"},
        "errors": {
            "type": "array",
            "title": "Errors",
            "items": {"$ref": "#/components/schemas/ValidationError"},
        },
    },
}


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Each field error's location, message and type."""
    return [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc)
    named = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:DETAIL_ERRORS]]
    more = f" (and {len(errors) - DETAIL_ERRORS} more)" if len(errors) > DETAIL_ERRORS else ""
    detail = "; ".join(named) + more if named else "the request is not valid"
    return problem_response(422, detail, extensions={"errors": errors})


def _problem_422(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with FastAPI's validation-error answer made a problem detail."""
    components = schema.get("components", {}).get("schemas", {})
    if "HTTPValidationError" in components:
        components["HTTPValidationError"] = _PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("responses", {}).get("422", {}).get("content", {})
            answer = content.get("application/json")
            if answer is not None and answer.get("schema", {}).get("$ref") == _SCHEMA_REF:
                content[PROBLEM_JSON] = content.pop("application/json")
    return schema


def install_invalid_request_handler(app: FastAPI) -> None:
    """Answer requests that do not validate with a 422 problem detail, and say so in
    the OpenAPI schema."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_422(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
