"""Errors as problem details (RFC 9457, ``application/problem+json``).

The edge where the layers' errors become HTTP statuses, in one place:

- the client's fault is a 4xx: a study or image the models cannot use (422), no such
  case (404), no complete index for the model (409);
- a service simcase needs that is not there is a 503 with ``Retry-After``: PostgreSQL
  (unreachable, restarting, or no connection free within
  ``SIMCASE_API__DATABASE_WAIT_SECONDS``), the PACS, the model files;
- anything else is a bug: a 500, logged with its traceback's frames but not the
  exception's message (which may quote data), by :mod:`plugin.api.access_log`.

Every body keeps a string ``detail``, as FastAPI's own answers do.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import psycopg
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from procrastinate.exceptions import ConnectorException
from starlette.exceptions import HTTPException as StarletteHTTPException

from dicom_conversion import ConversionError
from indexer.database import unreachable_reason
from indexer.errors import (
    CaseNotFoundError,
    DatabaseUnavailableError,
    IndexerError,
    ModelVersionError,
)
from models.errors import ChecksumMismatchError, ModelError, WeightsNotFoundError
from plugin.api.upload_files import without_paths
from plugin.errors import StudySourceError

__all__ = [
    "PROBLEM_JSON",
    "SERVICE_UNAVAILABLE",
    "UNAVAILABLE_RESPONSES",
    "install_problem_handlers",
    "problem_response",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Seconds a client is asked to wait before trying a 503 again.
RETRY_AFTER_SECONDS = 30

#: PostgreSQL not there: psycopg's (PoolTimeout is one), simcase's, and the job queue's.
_DATABASE = (DatabaseUnavailableError, psycopg.OperationalError, ConnectorException)
_PACS = (requests.ConnectionError, requests.Timeout, StudySourceError)
_MODEL_FILES = (WeightsNotFoundError, ChecksumMismatchError)

#: Errors that are nobody's fault at the client: a route that turns the layers' errors
#: into 4xx answers itself lets these through (re-raises them) to :func:`classify`.
SERVICE_UNAVAILABLE: tuple[type[BaseException], ...] = (*_DATABASE, *_PACS, *_MODEL_FILES)

#: The 503 in the OpenAPI responses of every route that needs the database.
UNAVAILABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "PostgreSQL, the PACS or the model files are not available right now"
        " (a problem detail; Retry-After says when to try again)"
    }
}


def problem_response(
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """An ``application/problem+json`` answer; ``extensions`` are members of its own."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **(extensions or {}),
    }
    return JSONResponse(body, status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def classify(exc: BaseException) -> tuple[int, str]:
    """The status and the client's ``detail`` for one of the layers' errors."""
    if isinstance(exc, _DATABASE):
        return 503, "the database cannot be reached right now; try again later"
    if isinstance(exc, _PACS):
        return 503, "the PACS cannot be reached right now; try again later"
    if isinstance(exc, _MODEL_FILES):
        return 503, "the models are not available on this server; ask its operator"
    if isinstance(exc, CaseNotFoundError):
        return 404, str(exc)
    if isinstance(exc, ModelVersionError):
        return 409, str(exc)
    if isinstance(exc, ConversionError | ModelError | IndexerError):
        return 422, without_paths(str(exc), tempfile.gettempdir())
    return 500, "internal error; it is logged on the server"


def _log_unavailable(request: Request, exc: BaseException) -> None:
    if isinstance(exc, _DATABASE):
        reason = unreachable_reason(exc)
    elif isinstance(exc, _MODEL_FILES):
        reason = str(exc)  # a path of the server's model folder, no patient data
    else:
        reason = type(exc).__name__
    log.warning(
        "answered 503: %s unavailable (%s)",
        "database" if isinstance(exc, _DATABASE) else "PACS or models",
        reason,
        extra={"method": request.method, "route": _route(request)},
    )


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path_format", "")) or "-"


async def _layer_error(request: Request, exc: Exception) -> JSONResponse:
    status, detail = classify(exc)
    if status == 503:
        _log_unavailable(request, exc)
        return problem_response(status, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    if status == 500:
        raise exc  # a bug: plugin.api.access_log answers and logs it
    return problem_response(status, detail)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(exc.status_code, str(exc.detail), exc.headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer the layers' errors and every ``HTTPException`` as problem details."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for kind in (*SERVICE_UNAVAILABLE, IndexerError, ModelError, ConversionError):
        app.add_exception_handler(kind, _layer_error)
