"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from indexer.database import create_pool
from plugin.api import admin, health
from plugin.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings, conninfo: str) -> FastAPI:
    """The API bound to one database; the pool opens and closes with the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(conninfo)
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="simcase",
        summary="Similar-case search for brain-tumour MRI. Not for diagnostic use.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(admin.router)
    return app
