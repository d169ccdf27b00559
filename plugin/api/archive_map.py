"""``GET /api/v1/map``: the archive's cases on a plane (the active model's vectors, first
two principal components), for the search page's map. Not for diagnostic use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from indexer.archive_map import read_archive_map
from indexer.errors import IndexerError
from plugin.api.deps import SEARCH_CREDENTIAL_RESPONSES, ConnDep, SearchCredential
from plugin.api.problems import SERVICE_UNAVAILABLE, UNAVAILABLE_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["search"], responses=UNAVAILABLE_RESPONSES)


@router.get(
    "/map",
    responses={
        **SEARCH_CREDENTIAL_RESPONSES,
        409: {"description": "Fewer than two indexed cases"},
    },
)
def archive_map(_: SearchCredential, conn: ConnDep) -> dict[str, Any]:
    """Every archive case (up to 20,000, an even sample beyond) as a point coloured by
    diagnosis, and the projection that placed them: ``xy = (embedding - mean) @
    components.T``. The map is fitted and stored at index time (bulk import, reindex);
    cases added since are placed with the stored fit. A search answer's
    ``query.map_point`` is the query placed by the server with the same projection."""
    try:
        mapped = read_archive_map(conn)
    except SERVICE_UNAVAILABLE:
        raise  # a 503 (plugin.api.problems)
    except IndexerError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {**mapped.to_json(), "notice": "Not for diagnostic use."}
