"""Stalled-job recovery counts attempts against the job's own task's retry budget."""

from __future__ import annotations

import asyncio

import procrastinate
from procrastinate import RetryStrategy, testing

from indexer.jobs import DEFAULT_RETRY, JOB_QUEUE
from indexer.worker import retry_stalled_jobs


def _app() -> procrastinate.App:
    app = procrastinate.App(connector=testing.InMemoryConnector())

    @app.task(name="long_budget", queue=JOB_QUEUE, retry=RetryStrategy(max_attempts=10))
    def long_budget() -> None:
        return None

    @app.task(name="default_budget", queue=JOB_QUEUE, retry=DEFAULT_RETRY)
    def default_budget() -> None:
        return None

    return app


def _stalled(app: procrastinate.App, task_name: str, attempts: int) -> int:
    job_id = int(app.configure_task(task_name).defer())
    connector = app.connector
    assert isinstance(connector, testing.InMemoryConnector)
    connector.jobs[job_id].update(status="doing", attempts=attempts, worker_id=999)
    return job_id


def test_a_job_is_failed_only_after_its_own_tasks_attempts() -> None:
    """``process_study`` retries a PACS outage 10 times; a worker death at its 5th
    attempt must not fail it by the default budget of 5 (before, it did)."""
    app = _app()
    with app.open():
        keeps = _stalled(app, "long_budget", attempts=5)
        ends = _stalled(app, "default_budget", attempts=5)
        retried = asyncio.run(retry_stalled_jobs(app, stalled_after_seconds=1))
        connector = app.connector
        assert isinstance(connector, testing.InMemoryConnector)
        assert retried == [keeps]
        assert connector.jobs[keeps]["status"] == "todo"
        assert connector.jobs[ends]["status"] == "failed"
