"""``POST /api/v1/search``: upload a study (DICOM files or a NIfTI case), get similar cases."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile, status

from indexer.bulk import load_source
from indexer.case_images import png_data_uri
from indexer.cases import audit
from indexer.search_service import SearchRequest, search_study
from indexer.store import PgVectorStore
from plugin.api.deps import (
    BAD_BODY_RESPONSES,
    SEARCH_CREDENTIAL_RESPONSES,
    AdminToken,
    JobsDep,
    ModelsDep,
    SearchCredential,
    SettingsDep,
    StoreDep,
)
from plugin.api.problems import UNAVAILABLE_RESPONSES
from plugin.api.search_answer import SearchAnswer
from plugin.api.search_filters import FilterDep, patient_of_upload
from plugin.api.upload_files import save_uploads, without_paths
from plugin.api.viewer_links import add_viewer_links
from plugin.dicom.uids import is_dicom_uid
from plugin.errors import UploadTooLargeError
from plugin.jobs import enqueue_process_study
from plugin.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["search"], responses=UNAVAILABLE_RESPONSES)


@router.post(
    "/search",
    response_model=SearchAnswer,
    response_model_exclude_unset=True,
    responses={
        **SEARCH_CREDENTIAL_RESPONSES,
        **BAD_BODY_RESPONSES,
        413: {
            "description": "The upload is larger than SIMCASE_API__MAX_UPLOAD_BYTES, or"
            " decompresses (.zip, .gz) to more than SIMCASE_API__MAX_UNCOMPRESSED_BYTES"
        },
        409: {"description": "No complete index of the archive for the current model"},
        422: {
            "description": "The upload cannot be read, the models cannot use the study"
            " (no tumour, sequences missing), or a parameter is out of range"
        },
    },
)
def search(
    actor: SearchCredential,
    store: StoreDep,
    models: ModelsDep,
    settings: SettingsDep,
    chosen: FilterDep,
    files: Annotated[
        list[UploadFile],
        File(
            description="DICOM files of one study, or a "
            "BraTS-style NIfTI case (t1n/t1c/t2w/t2f[/seg]); .zip archives are unpacked"
        ),
    ],
    k: Annotated[int, Query(ge=1, le=100)] = 5,
    per_diagnosis: Annotated[int, Query(ge=0, le=20)] = 0,
    use_given_mask: bool = True,
    images: Annotated[
        bool, Query(description="add the query's tumour slice, outline and three planes")
    ] = False,
) -> dict[str, Any]:
    """Similar archive cases for an uploaded study. Not for diagnostic use.

    Filters: ``diagnosis`` (repeatable), ``age_min``/``age_max``, ``sex``, ``metadata``
    (``key=value``, repeatable); the uploaded study's own patient is left out unless
    ``exclude_own_patient=false``, and ``exclude_patient`` names another patient id to
    leave out. Hits in the PACS get a ``viewer_url`` when ``SIMCASE_PACS__VIEWER_URL``
    is set. ``query.map_point`` places the query on the archive map (``GET /api/v1/map``).
    """
    with tempfile.TemporaryDirectory(prefix="simcase-query-") as tmp:
        try:
            folder = save_uploads(
                [(f.filename or "", f.file) for f in files],
                Path(tmp),
                settings.api.max_uncompressed_bytes,
            )
        except UploadTooLargeError as exc:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, without_paths(str(exc), tmp)
            ) from exc
        try:
            study = load_source(str(folder))
        except Exception as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"cannot read the upload: {without_paths(str(exc), tmp)}",
            ) from exc
        own = patient_of_upload(folder) if chosen.exclude_own_patient else None
        excluded = chosen.exclude_patient or own
        request = SearchRequest(
            k=k,
            per_diagnosis=per_diagnosis,
            filters=chosen.filters,
            exclude_patient=excluded,
            use_given_mask=use_given_mask,
            images=images,
        )
        # a study the models cannot use is a 422, a database that is down a 503
        # (plugin.api.problems); the temporary folder is gone when either is answered
        result = search_study(study, store, models, request)
    return decorate_hits(result, store, settings, excluded is not None, actor)


def decorate_hits(
    result: dict[str, Any],
    store: PgVectorStore,
    settings: Settings,
    patient_excluded: bool,
    actor: str = "search-api",
) -> dict[str, Any]:
    """Audit which archive cases the search showed; add the hits' thumbnails and their
    tumour outlines (when kept; the page asks ``/cases/{id}/outline.png`` for others), whether a
    patient was left out (never who: the id stays out of responses) and the OHIF links,
    when a viewer is configured."""
    hits = [*result["results"], *(h for g in result["per_diagnosis"].values() for h in g)]
    shown = sorted({h["case_id"] for h in hits})
    with store.pool.connection() as conn:  # which archive cases a search showed
        audit(
            conn,
            actor,
            "search",
            result["query"].get("study_instance_uid"),
            {
                "kind": result["query"].get("kind", "study"),
                "model_version": result["model_version"],
                "case_ids": shown,
            },
        )
    thumbs, outlines = store.thumbnails(shown), store.outlines(shown)
    for hit in hits:
        if hit["case_id"] in thumbs:
            hit["thumbnail"] = png_data_uri(thumbs[hit["case_id"]])
        if hit["case_id"] in outlines:
            hit["outline"] = png_data_uri(outlines[hit["case_id"]])
    result["query"]["patient_excluded"] = patient_excluded
    if settings.pacs.viewer_url:
        add_viewer_links(result, settings.pacs.viewer_url, settings.pacs.dicomweb_url)
    return result


@router.post(
    "/studies/{study_instance_uid}/search",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        401: {"description": "No valid admin bearer token"},
        409: {"description": "No DICOMweb source configured"},
        422: {"description": "Not a DICOM UID"},
    },
)
def search_pacs_study(
    study_instance_uid: str,
    _: AdminToken,
    jobs: JobsDep,
    request: Request,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Pull path: fetch the study from the PACS by WADO-RS and queue its processing.

    Results are written back into the study. Called by the Orthanc integration.
    """
    if not is_dicom_uid(study_instance_uid):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "not a DICOM UID")
    if not settings.pacs.dicomweb_url:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "SIMCASE_PACS__DICOMWEB_URL is not configured"
        )
    conninfo: str = request.app.state.conninfo
    job_id = enqueue_process_study(jobs, conninfo, study_instance_uid, "dicomweb")
    return {"job_id": job_id, "study_instance_uid": study_instance_uid}
