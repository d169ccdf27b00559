"""A job left "doing" by a worker killed with SIGKILL is retried by another worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from indexer.jobs import JOB_QUEUE, create_job_app, task_name

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("stall_worker.py")


def _worker(conninfo: str, mode: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(SCRIPT), conninfo, mode], env=env, stdout=out, stderr=out
        )


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def _status(conninfo: str, job_id: int) -> tuple[str, int]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT status, attempts FROM procrastinate_jobs WHERE id = %s", (job_id,)
        ).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def test_job_of_a_worker_killed_with_sigkill_is_retried_within_60_s(
    database_url: str, tmp_path: Path
) -> None:
    import indexer.worker as worker_module

    app = create_job_app(database_url, tasks=())
    marker = str(tmp_path / "job")
    with app.open():
        job_id = app.configure_task(task_name("test_stall"), queue=JOB_QUEUE).defer(marker=marker)
    log = tmp_path / "workers.log"
    hanging = _worker(database_url, "hang", log)
    rescuer: subprocess.Popen[bytes] | None = None
    try:
        assert _wait(lambda: Path(marker + ".started").exists(), 60), log.read_text()
        assert _status(database_url, job_id)[0] == "doing"
        hanging.send_signal(signal.SIGKILL)
        hanging.wait(10)
        killed_at = time.monotonic()
        rescuer = _worker(database_url, "work", log)
        assert _wait(lambda: _status(database_url, job_id)[0] == "succeeded", 60), (
            _status(database_url, job_id),
            log.read_text()[-3000:],
        )
        assert time.monotonic() - killed_at < 60
        # the same job, run a second time (attempt 1 counted by the retry)
        assert Path(marker + ".done").read_text() == "1"
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()
        assert row is not None and row[0] == 1
    finally:
        for proc in (hanging, rescuer):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
    assert worker_module.STALLED_AFTER_SECONDS + worker_module.RECOVERY_INTERVAL_SECONDS < 60
