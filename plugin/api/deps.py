"""Dependency aliases shared by the routers."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from indexer.pipeline import ModelSet
from indexer.store import PgVectorStore
from plugin.api.parameter_check import check_parameters
from plugin.settings import Settings, is_loopback_host

__all__ = [
    "BAD_BODY_RESPONSES",
    "SEARCH_CREDENTIAL_RESPONSES",
    "AdminToken",
    "ConnDep",
    "JobsDep",
    "ModelsDep",
    "SearchCredential",
    "SettingsDep",
    "StoreDep",
    "admin_actor",
    "named_person",
]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _conn(request: Request) -> Iterator[psycopg.Connection[Any]]:
    check_parameters(request)  # a 422 needs no database: checked before the pool is asked
    pool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


def _store(request: Request) -> PgVectorStore:
    store: PgVectorStore = request.app.state.store
    return store


def _models(request: Request) -> ModelSet:
    models: ModelSet = request.app.state.models()
    return models


def _jobs(request: Request) -> Any:
    return request.app.state.jobs


_bearer = HTTPBearer(auto_error=False)


def admin_actor(request: Request, settings: Settings) -> str:
    """Who an admin request is, for the audit log and the access log: the person the
    trusted proxy header names, else ``admin token``."""
    return named_person(request, settings.api.trusted_user_header) or "admin token"


def _admin(
    request: Request,
    settings: Annotated[Settings, Depends(_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or not hmac.compare_digest(
        credentials.credentials.encode(), settings.api.admin_token.encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid admin bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.actor = admin_actor(request, settings)  # for plugin.api.access_log
    return "admin-api"


#: The answer of a route with a request body when the body cannot be parsed at all
#: (JSON that is not UTF-8, multipart data without its boundary): FastAPI's own 400.
BAD_BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request body cannot be parsed (not JSON, or not multipart data)"}
}

#: Longest user name taken from the trusted proxy header (kept in the audit log).
MAX_USER_NAME = 128

#: The answer listed in the OpenAPI schema of every route behind :data:`SearchCredential`.
SEARCH_CREDENTIAL_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No valid search credential: the bearer token SIMCASE_API__SEARCH_TOKEN,"
        " or the user header named by SIMCASE_API__TRUSTED_USER_HEADER set by the sign-on proxy"
    }
}


def named_person(request: Request, header: str | None) -> str | None:
    """The person the trusted proxy header names (printable characters, at most
    :data:`MAX_USER_NAME`), or None when no header is configured or it is empty."""
    if not header:
        return None
    value = request.headers.get(header, "")
    name = "".join(c for c in value if c.isprintable()).strip()[:MAX_USER_NAME]
    return name or None


def _search_actor(
    request: Request, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> str | None:
    api = settings.api
    person = named_person(request, api.trusted_user_header)
    if person is not None:
        return person
    if api.search_token is not None and credentials is not None:
        if hmac.compare_digest(credentials.credentials.encode(), api.search_token.encode()):
            return "search token"
    if api.search_open:
        client = request.client.host if request.client else ""
        return "anonymous (loopback)" if is_loopback_host(client) else "anonymous (remote)"
    return None


def _searcher(
    request: Request,
    settings: Annotated[Settings, Depends(_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Who may see archive images and patient-derived data: the audit log's actor.

    A non-empty trusted user header (when one is configured) names the person and lets
    them search; else a bearer token equal to the search token (constant-time
    comparison), recorded as ``search token``; with no credential configured (only
    allowed on loopback) anyone may, recorded as ``anonymous (loopback)`` or
    ``anonymous (remote)``.
    """
    actor = _search_actor(request, settings, credentials)
    if actor is not None:
        request.state.actor = actor  # for plugin.api.access_log
        return actor
    api = settings.api
    accepted = []
    if api.search_token is not None:
        accepted.append("a valid search bearer token")
    if api.trusted_user_header is not None:
        accepted.append(f"the {api.trusted_user_header} header of the sign-on proxy")
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        f"searching the archive requires {' or '.join(accepted)}",
        headers={"WWW-Authenticate": "Bearer"},
    )


SettingsDep = Annotated[Settings, Depends(_settings)]
ConnDep = Annotated[psycopg.Connection[Any], Depends(_conn)]
AdminToken = Annotated[str, Depends(_admin)]
SearchCredential = Annotated[str, Depends(_searcher)]
StoreDep = Annotated[PgVectorStore, Depends(_store)]
ModelsDep = Annotated[ModelSet, Depends(_models)]
JobsDep = Annotated[Any, Depends(_jobs)]
