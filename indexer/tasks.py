"""The indexer's tasks: erase a case, re-embed the archive under a new model version."""

from __future__ import annotations

from typing import Any

from procrastinate import JobContext

from indexer import cases
from indexer.bulk import load_source
from indexer.database import connect
from indexer.errors import CaseNotFoundError, IndexerError
from indexer.job_status import record_error, set_progress
from indexer.jobs import JobTask, job, job_resources
from indexer.pipeline import embed_study, register_models

__all__ = ["INDEXER_TASKS", "delete_case_task", "reindex_task"]


@job("delete_case")
def delete_case_task(context: JobContext, case_id: str, actor: str) -> int:
    """Erase an archive case and all its vectors (right to erasure), audited."""
    with connect(job_resources(context).conninfo) as conn:
        removed = cases.delete_case(conn, case_id, actor)
    if removed < 0:
        raise CaseNotFoundError(f"no archive case {case_id!r}")
    return removed


@job("reindex", lock="reindex")
def reindex_task(context: JobContext, case_id: str | None = None) -> dict[str, Any]:
    """Embed every case (or one) with the current model version, then switch to it.

    Searches keep using the previous complete version until the new one covers every
    case; the version's archive map is refitted and stored before the switch, which is
    atomic and the old vectors are dropped after it. A retried or
    re-run job resumes where it stopped (only cases without a vector are embedded).
    """
    resources = job_resources(context)
    models, store = resources.models, resources.store
    version = models.model_version
    register_models(store, models)
    todo = [case_id] if case_id else store.missing_case_ids(version)
    job_id = context.job.id
    failures: list[str] = []
    with connect(resources.conninfo, autocommit=True) as conn:
        for done, cid in enumerate(todo, start=1):
            try:
                uri, given_mask = store.case_source(cid)
                if uri is None:
                    raise IndexerError(f"case {cid} has no recorded image source")
                embedded = embed_study(load_source(uri), models, use_given_mask=given_mask)
                store.add_vector(cid, version, embedded.vector)
            except Exception as exc:  # one broken case never stops the others
                failures.append(f"{cid}: {type(exc).__name__}: {exc}")
                if job_id is not None:
                    record_error(conn, job_id, context.job.attempts + 1, failures[-1])
            if job_id is not None:
                set_progress(conn, job_id, done, len(todo))
    if todo:  # the version's map, refitted before searches may switch to it
        store.refresh_archive_map(version)
    have, total = store.coverage(version)
    if have == total:
        store.activate(version, actor="reindex")
    if failures:
        raise IndexerError(
            f"{len(failures)} of {len(todo)} case(s) could not be re-embedded; "
            f"searches stay on the previous model version ({have}/{total} covered)"
        )
    return {"model_version": version, "embedded": len(todo), "covered": have, "total": total}


#: The indexer's tasks, for ``create_job_app(conninfo, tasks=...)``.
INDEXER_TASKS: tuple[JobTask, ...] = (delete_case_task, reindex_task)
