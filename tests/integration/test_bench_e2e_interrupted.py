"""``bench/e2e_latency.py`` interrupted (SIGTERM, as ``timeout`` sends it) once its
servers run: it stops them and removes its ``bench-e2e-*`` work folder (the embedded
PostgreSQL's data, Orthanc's storage, the spool and the logs) before it exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_for_servers(bench: subprocess.Popen[bytes], tmp: Path, timeout: float) -> Path:
    """The benchmark's work folder, once Orthanc, the listener and the worker are up."""
    deadline = time.monotonic() + timeout
    while True:
        assert bench.poll() is None, f"the benchmark exited early: {bench.returncode}"
        assert time.monotonic() < deadline, "the benchmark's servers did not start"
        found = [w for w in tmp.glob("bench-e2e-*") if (w / "logs" / "worker.log").exists()]
        if found:
            return found[0]
        time.sleep(0.2)


def test_an_interrupted_e2e_benchmark_leaves_no_work_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp)}
    env.pop("SIMCASE_BENCH_PRIVATE_NETWORK", None)
    bench = subprocess.Popen(
        [sys.executable, "bench/e2e_latency.py", "--cases", "1", "--archive-cases", "2"],
        cwd=REPO,
        env=env,
    )
    children: list[psutil.Process] = []
    try:
        work = _wait_for_servers(bench, tmp, timeout=900)
        time.sleep(2)
        assert (work / "pgdata").is_dir() and (work / "orthanc").is_dir()
        children = psutil.Process(bench.pid).children(recursive=True)
        assert children  # PostgreSQL, Orthanc, simcase listen and worker, storescp
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(120) == 128 + signal.SIGTERM
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert list(tmp.glob("bench-e2e-*")) == []
    time.sleep(1)
    left = [c.pid for c in children if _running(c)]
    assert left == []


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
