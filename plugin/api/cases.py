"""``GET /api/v1/cases/{case_id}/pictures``: an archive case's facts and three planes, for
the search page's side-by-side view; ``GET /api/v1/cases/{case_id}/outline.png``: the
tumour outline over its hit card's thumbnail. Not for diagnostic use."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Response, status
from fastapi import Path as FastApiPath

from dicom_conversion import ConversionError
from dicom_conversion.log_refs import name_ref
from indexer.case_pictures import archive_case, archive_case_outline, archive_case_pictures
from indexer.errors import CaseNotFoundError, IndexerError
from models.errors import ModelError
from plugin.api.deps import SEARCH_CREDENTIAL_RESPONSES, ModelsDep, SearchCredential, StoreDep
from plugin.api.problems import SERVICE_UNAVAILABLE, UNAVAILABLE_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["search"], responses=UNAVAILABLE_RESPONSES)
log = logging.getLogger(__name__)

CaseId = Annotated[str, FastApiPath(min_length=1, max_length=128)]


@router.get(
    "/cases/{case_id}/pictures",
    responses={
        **SEARCH_CREDENTIAL_RESPONSES,
        404: {"description": "No such archive case"},
        409: {"description": "The case's images can no longer be read"},
    },
)
def case_pictures(
    case_id: CaseId, _: SearchCredential, store: StoreDep, models: ModelsDep
) -> dict[str, Any]:
    """A similar case's facts and its axial, coronal and sagittal planes through the
    tumour (every sequence, with the outline), at the same scale as the query's."""
    with store.pool.connection() as conn:  # released before the images are read
        try:
            case = archive_case(conn, case_id)
        except CaseNotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    try:
        pictures = archive_case_pictures(case, models.segmenter)
    except SERVICE_UNAVAILABLE:
        raise  # a 503 (plugin.api.problems), not the case's fault
    except _UNREADABLE as exc:
        log.warning(
            "case images unreadable: %s", type(exc).__name__, extra={"case": name_ref(case_id)}
        )
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the images of case {case_id} cannot be read"
        ) from exc
    pictures["notice"] = "Not for diagnostic use."
    return pictures


_UNREADABLE = (IndexerError, ConversionError, ModelError, OSError, ValueError)


@router.get(
    "/cases/{case_id}/outline.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "Transparent PNG"},
        404: {"description": "No such archive case"},
        409: {"description": "No outline kept and the case's images can no longer be read"},
    },
)
def case_outline(case_id: CaseId, store: StoreDep, models: ModelsDep) -> Response:
    """The tumour outline (whole tumour yellow, core red) drawn over the case's thumbnail
    on its hit card, as over the query's: kept at index time, or drawn from the case's
    images once for cases indexed before outlines were kept."""
    with store.pool.connection() as conn:
        try:
            case = archive_case(conn, case_id)
            png = archive_case_outline(conn, case, models.segmenter)
        except CaseNotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except SERVICE_UNAVAILABLE:
            raise  # a 503 (plugin.api.problems), not the case's fault
        except _UNREADABLE as exc:
            log.warning(
                "case outline unreadable: %s", type(exc).__name__, extra={"case": name_ref(case_id)}
            )
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"the images of case {case_id} cannot be read"
            ) from exc
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
