"""The FastAPI application."""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from indexer.jobs import create_job_app
from indexer.pipeline import ModelSet, load_models
from indexer.store import open_store
from plugin.api import (
    admin,
    admin_overview,
    archive_map,
    cases,
    health,
    image_search,
    pages,
    search,
)
from plugin.api.access_log import AccessLog
from plugin.api.invalid_request import install_invalid_request_handler
from plugin.api.problems import install_problem_handlers
from plugin.api.upload_limit import UploadLimit
from plugin.jobs import TASKS
from plugin.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings, conninfo: str) -> FastAPI:
    """The API bound to one database; the pool opens and closes with the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(
            conninfo,
            settings.index.options(),
            max_size=8,
            timeout=settings.api.database_wait_seconds,
        )
        app.state.store = store
        app.state.pool = store.pool
        jobs = create_job_app(conninfo, tasks=TASKS, min_size=1, max_size=2)
        jobs.open()
        app.state.jobs = jobs
        try:
            yield
        finally:
            jobs.close()
            store.close()

    app = FastAPI(
        title="simcase",
        summary="Similar-case search for brain-tumour MRI. Not for diagnostic use.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.conninfo = conninfo
    lock = threading.Lock()

    @functools.cache
    def _load() -> ModelSet:
        return load_models(settings.model_dir)

    def models() -> ModelSet:
        with lock:  # loaded once, on the first request that needs them
            return _load()

    app.state.models = models
    app.add_middleware(
        UploadLimit, max_bytes=settings.api.max_upload_bytes, prefixes=("/api/v1/search",)
    )
    app.add_middleware(AccessLog)  # outermost: it sees the upload limit's answers too
    install_problem_handlers(app)
    install_invalid_request_handler(app)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(admin_overview.router)
    app.include_router(image_search.router)
    app.include_router(search.router)
    app.include_router(cases.router)
    app.include_router(archive_map.router)
    app.include_router(pages.router)
    return app
