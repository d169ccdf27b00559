"""Admin endpoints (bearer token): jobs and archive cases."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from indexer import cases
from indexer.job_status import JobStatus, get_job, list_jobs
from indexer.jobs import enqueue_reindex
from plugin.api.deps import AdminToken, ConnDep, JobsDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class ReindexRequest(BaseModel):
    """Reindex every case (default) or one case, with the current model version."""

    case_id: str | None = None


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED)
def reindex(
    _: AdminToken, jobs: JobsDep, request: Request, body: ReindexRequest | None = None
) -> dict[str, int]:
    """Queue a reindex; searches stay on the previous model until the new one is complete."""
    conninfo: str = request.app.state.conninfo
    return {"job_id": enqueue_reindex(jobs, conninfo, body.case_id if body else None)}


@router.get("/jobs")
def jobs(_: AdminToken, conn: ConnDep, limit: int = 50) -> list[JobStatus]:
    """The most recent jobs, newest first."""
    return list_jobs(conn, limit=limit)


@router.get("/jobs/{job_id}")
def job(job_id: int, _: AdminToken, conn: ConnDep) -> JobStatus:
    """One job: state, progress and errors."""
    found = get_job(conn, job_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return found


@router.get("/cases")
def list_cases(
    _: AdminToken, conn: ConnDep, limit: int = 100, offset: int = 0, diagnosis: str | None = None
) -> list[dict[str, Any]]:
    """Archive cases (no patient identifiers)."""
    return [
        asdict(c) for c in cases.list_cases(conn, limit=limit, offset=offset, diagnosis=diagnosis)
    ]


@router.get("/cases/{case_id}")
def show_case(case_id: str, _: AdminToken, conn: ConnDep) -> dict[str, Any]:
    """One archive case."""
    found = cases.get_case(conn, case_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return asdict(found)


@router.delete("/cases/{case_id}")
def delete_case(case_id: str, actor: AdminToken, conn: ConnDep) -> dict[str, Any]:
    """Erase a case and every vector of it (right to erasure); audited."""
    removed = cases.delete_case(conn, case_id, actor)
    if removed < 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return {"case_id": case_id, "deleted": True, "vectors_removed": removed}
