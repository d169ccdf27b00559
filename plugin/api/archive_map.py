"""``GET /api/v1/map``: the archive's cases on a plane (the active model's vectors, first
two principal components), for the search page's map. Not for diagnostic use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from indexer.archive_map import MapCache
from indexer.errors import IndexerError
from plugin.api.deps import SEARCH_CREDENTIAL_RESPONSES, ConnDep, SearchCredential

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get(
    "/map",
    responses={
        **SEARCH_CREDENTIAL_RESPONSES,
        409: {"description": "Fewer than two indexed cases"},
    },
)
def archive_map(_: SearchCredential, request: Request, conn: ConnDep) -> dict[str, Any]:
    """Every archive case (up to 20,000, an even sample beyond) as a point coloured by
    diagnosis, and the projection that places a query's embedding on the same map:
    ``xy = (embedding - mean) @ components.T``. Recomputed after every (re)indexing."""
    cache: MapCache = request.app.state.map_cache
    try:
        mapped = cache.get(conn)
    except IndexerError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {**mapped.to_json(), "notice": "Not for diagnostic use."}
