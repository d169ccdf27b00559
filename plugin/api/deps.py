"""Dependency aliases shared by the routers."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from plugin.settings import Settings

__all__ = ["AdminToken", "ConnDep", "SettingsDep"]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _conn(request: Request) -> Iterator[psycopg.Connection[Any]]:
    pool = request.app.state.pool
    with pool.connection() as conn:
        yield conn


_bearer = HTTPBearer(auto_error=False)


def _admin(
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
    return "admin-api"


SettingsDep = Annotated[Settings, Depends(_settings)]
ConnDep = Annotated[psycopg.Connection[Any], Depends(_conn)]
AdminToken = Annotated[str, Depends(_admin)]
