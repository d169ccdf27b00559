"""Admin endpoints (bearer token): jobs and archive cases."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi import Path as FastApiPath
from pydantic import BaseModel

from indexer import cases
from indexer.job_status import JobStatus, get_job, list_jobs
from indexer.jobs import enqueue_reindex
from plugin.api.actors import AdminActor
from plugin.api.deps import BAD_BODY_RESPONSES, AdminToken, ConnDep, JobsDep
from plugin.api.problems import UNAVAILABLE_RESPONSES

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    responses={401: {"description": "No valid admin bearer token"}, **UNAVAILABLE_RESPONSES},
)

#: Page sizes (anything else is a 422, never a database error).
Limit = Annotated[int, Query(ge=1, le=1000)]
JobId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1)]
CaseId = Annotated[str, FastApiPath(min_length=1, max_length=128)]


class ReindexRequest(BaseModel):
    """Reindex every case (default) or one case, with the current model version."""

    case_id: str | None = None


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED, responses=BAD_BODY_RESPONSES)
def reindex(
    actor: AdminActor,
    jobs: JobsDep,
    conn: ConnDep,
    request: Request,
    body: ReindexRequest | None = None,
) -> dict[str, int]:
    """Queue a reindex (audited); searches stay on the previous model until the new one is
    complete."""
    conninfo: str = request.app.state.conninfo
    case_id = body.case_id if body else None
    job_id = enqueue_reindex(jobs, conninfo, case_id)
    cases.audit(conn, actor, "reindex", case_id, {"job_id": job_id})  # who reindexed what
    return {"job_id": job_id}


@router.get("/jobs")
def jobs(_: AdminToken, conn: ConnDep, limit: Limit = 50) -> list[JobStatus]:
    """The most recent jobs, newest first."""
    return list_jobs(conn, limit=limit)


@router.get("/jobs/{job_id}", responses={404: {"description": "No such job"}})
def job(
    job_id: Annotated[int, FastApiPath(ge=1, le=2**63 - 1)], _: AdminToken, conn: ConnDep
) -> JobStatus:
    """One job: state, progress and errors."""
    found = get_job(conn, job_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return found


@router.get("/cases")
def list_cases(
    _: AdminToken,
    conn: ConnDep,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    diagnosis: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Archive cases (no patient identifiers)."""
    return [
        asdict(c) for c in cases.list_cases(conn, limit=limit, offset=offset, diagnosis=diagnosis)
    ]


@router.get("/cases/{case_id}", responses={404: {"description": "No such case"}})
def show_case(case_id: CaseId, _: AdminToken, conn: ConnDep) -> dict[str, Any]:
    """One archive case."""
    found = cases.get_case(conn, case_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return asdict(found)


@router.delete("/cases/{case_id}", responses={404: {"description": "No such case"}})
def delete_case(case_id: CaseId, actor: AdminActor, conn: ConnDep) -> dict[str, Any]:
    """Erase a case and every vector of it (right to erasure); audited."""
    removed = cases.delete_case(conn, case_id, actor)
    if removed < 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return {"case_id": case_id, "deleted": True, "vectors_removed": removed}
