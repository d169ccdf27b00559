"""Admin view endpoints (bearer token): model versions with case counts, recent query
studies with their result state and "process again", and the audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi import Path as FastApiPath

from indexer.admin_overview import audit_entries, model_version_counts, recent_studies
from indexer.cases import audit
from plugin.api.actors import AdminActor
from plugin.api.deps import AdminToken, ConnDep, JobsDep, SettingsDep
from plugin.api.problems import UNAVAILABLE_RESPONSES
from plugin.dicom.uids import is_dicom_uid
from plugin.jobs import enqueue_process_study

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    responses={401: {"description": "No valid admin bearer token"}, **UNAVAILABLE_RESPONSES},
)

Limit = Annotated[int, Query(ge=1, le=1000)]
StudyUid = Annotated[str, FastApiPath(min_length=1, max_length=64)]


@router.get("/models")
def models(_: AdminToken, conn: ConnDep) -> list[dict[str, Any]]:
    """Model versions (active, building, retired) with their number of archive cases."""
    return [asdict(m) for m in model_version_counts(conn)]


@router.get("/studies")
def studies(_: AdminToken, conn: ConnDep, limit: Limit = 50) -> list[dict[str, Any]]:
    """Query studies last heard of, newest first: received, processing, answered (with
    how many earlier results were superseded), failed (with the last error)."""
    return [asdict(s) for s in recent_studies(conn, limit=limit)]


@router.post(
    "/studies/{study_instance_uid}/process",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        409: {"description": "simcase cannot fetch the study again"},
        422: {"description": "Not a DICOM UID"},
    },
)
def process_again(
    study_instance_uid: StudyUid,
    actor: AdminActor,
    conn: ConnDep,
    jobs: JobsDep,
    request: Request,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Queue ``process_study`` again, from where the study came last time (the spool,
    or the PACS by DICOMweb); audited."""
    if not is_dicom_uid(study_instance_uid):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "not a DICOM UID")
    row = conn.execute(
        "SELECT args->>'source' FROM procrastinate_jobs"
        " WHERE args->>'study_instance_uid' = %s ORDER BY id DESC LIMIT 1",
        (study_instance_uid,),
    ).fetchone()
    received = conn.execute(
        "SELECT 1 FROM intake_studies WHERE study_instance_uid = %s", (study_instance_uid,)
    ).fetchone()
    source = row[0] if row and row[0] else ("spool" if received else None)
    if source is None and settings.pacs.dicomweb_url:
        source = "dicomweb"
    if source is None or (source == "dicomweb" and not settings.pacs.dicomweb_url):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "the study is neither in the spool nor reachable by DICOMweb",
        )
    job_id = enqueue_process_study(jobs, request.app.state.conninfo, study_instance_uid, source)
    audit(conn, actor, "process_again", study_instance_uid, {"job_id": job_id, "source": source})
    return {"job_id": job_id, "study_instance_uid": study_instance_uid, "source": source}


@router.get("/audit")
def audit_log(_: AdminToken, conn: ConnDep, limit: Limit = 100) -> list[dict[str, Any]]:
    """Who erased, reindexed, activated or processed what, and which cases were shown."""
    return [asdict(a) for a in audit_entries(conn, limit=limit)]
