"""The indexer's tasks: erase a case, re-embed the archive under a new model version."""

from __future__ import annotations

from typing import Any

import psycopg
from procrastinate import JobContext

from indexer import cases
from indexer.bulk import load_source
from indexer.case_pictures import archive_case, archive_case_outline
from indexer.database import connect
from indexer.errors import CaseNotFoundError, IndexerError
from indexer.job_status import record_error, set_progress
from indexer.jobs import JobTask, job, job_resources, readable_error
from indexer.pipeline import embed_study, register_models
from indexer.store._cases import cases_without_outline, save_outline

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

    Hit-card outlines missing from an archive indexed before they were kept are filled
    on the way: a re-embedded case keeps the outline drawn from the mask it was embedded
    with, any other case (or the one case) without an outline gets it drawn from its
    source. An outline that cannot be drawn is a job error, never a failed reindex.
    """
    resources = job_resources(context)
    models, store = resources.models, resources.store
    version = models.model_version
    register_models(store, models)
    todo = [case_id] if case_id else store.missing_case_ids(version)
    job_id = context.job.id
    failures: list[str] = []
    filled = 0
    with connect(resources.conninfo, autocommit=True) as conn:
        unlined = cases_without_outline(conn)
        if case_id:
            unlined &= {case_id}
        outlines_only = sorted(unlined - set(todo))
        steps = len(todo) + len(outlines_only)
        for done, cid in enumerate(todo, start=1):
            try:
                uri, given_mask = store.case_source(cid)
                if uri is None:
                    raise IndexerError(f"case {cid} has no recorded image source")
                embedded = embed_study(load_source(uri), models, use_given_mask=given_mask)
                store.add_vector(cid, version, embedded.vector)
                if cid in unlined:
                    save_outline(conn, cid, embedded.outline)
                    filled += 1
            except Exception as exc:  # one broken case never stops the others
                failures.append(_job_error(conn, context, cid, exc))
            if job_id is not None:
                set_progress(conn, job_id, done, steps)
        for done, cid in enumerate(outlines_only, start=len(todo) + 1):
            try:
                archive_case_outline(conn, archive_case(conn, cid), models.segmenter)
                filled += 1
            except Exception as exc:  # the hit card draws it on first view, or says why
                _job_error(conn, context, cid, exc)
            if job_id is not None:
                set_progress(conn, job_id, done, steps)
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
    return {
        "model_version": version,
        "embedded": len(todo),
        "covered": have,
        "total": total,
        "outlines_filled": filled,
    }


def _job_error(
    conn: psycopg.Connection[Any], context: JobContext, case_id: str, exc: Exception
) -> str:
    """Keep one case's failure among the job's errors (the admin view); its text."""
    text = f"{case_id}: {readable_error(exc, 3000)}"
    if context.job.id is not None:
        record_error(conn, context.job.id, context.job.attempts + 1, text)
    return text


#: The indexer's tasks, for ``create_job_app(conninfo, tasks=...)``.
INDEXER_TASKS: tuple[JobTask, ...] = (delete_case_task, reindex_task)
