"""A worker runs ``SIMCASE_WORKER__CONCURRENCY`` jobs at once (issue 15: with one job
at a time, 4 studies arriving together were answered one after the other).

Two jobs of a task of the test's own each wait, on a barrier of two, for the other to
start: in a worker started as ``simcase worker`` starts it (:func:`plugin.runtime.
run_worker`, a real procrastinate worker on the test database) both succeed when the
setting allows 2 jobs at once (the default), and both fail when it is 1."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import psycopg
import pytest
from procrastinate import JobContext

from indexer.jobs import create_job_app, job, task_name
from plugin.runtime import run_worker
from plugin.settings import Settings, WorkerSettings

pytestmark = pytest.mark.integration

BARRIER_SECONDS = 5.0
_barrier = threading.Barrier(2, timeout=BARRIER_SECONDS)


@job("meet_the_other_job", retry=0)
def _meet_the_other_job(context: JobContext, n: int) -> None:
    _barrier.wait()  # BrokenBarrierError after BARRIER_SECONDS when alone


def _statuses(url: str, ids: list[int]) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status::text FROM procrastinate_jobs WHERE id = ANY(%s) ORDER BY id", (ids,)
        ).fetchall()
    return [str(r[0]) for r in rows]


async def _run_two_jobs(url: str, settings: Settings) -> list[str]:
    app = create_job_app(url, tasks=[_meet_the_other_job])
    async with app.open_async():
        task = app.configure_task(task_name("meet_the_other_job"))
        ids = [await task.defer_async(n=n) for n in (1, 2)]
        worker = asyncio.create_task(run_worker(app, settings, url))
        deadline = time.monotonic() + 4 * BARRIER_SECONDS + 20
        while not set(states := _statuses(url, ids)) <= {"succeeded", "failed"}:
            assert time.monotonic() < deadline, states
            await asyncio.sleep(0.1)
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    return states


@pytest.mark.parametrize(("concurrency", "expected"), [(2, "succeeded"), (1, "failed")])
def test_the_worker_runs_the_configured_number_of_jobs_at_once(
    database_url: str, tmp_path: Path, concurrency: int, expected: str
) -> None:
    _barrier.reset()
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, worker=WorkerSettings(concurrency=concurrency)
    )
    assert asyncio.run(_run_two_jobs(database_url, settings)) == [expected, expected]


def test_two_jobs_at_once_by_default() -> None:
    assert WorkerSettings().concurrency == 2
