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
from plugin.settings import Settings

__all__ = ["AdminToken", "ConnDep", "JobsDep", "ModelsDep", "SettingsDep", "StoreDep"]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _conn(request: Request) -> Iterator[psycopg.Connection[Any]]:
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
StoreDep = Annotated[PgVectorStore, Depends(_store)]
ModelsDep = Annotated[ModelSet, Depends(_models)]
JobsDep = Annotated[Any, Depends(_jobs)]
