"""`simcase run` on the embedded PostgreSQL: starts, serves, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import free_port
from tests.integration.conftest import service_dir

pytestmark = pytest.mark.integration


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres" and str(pgdata) in " ".join(
                proc.info["cmdline"] or []
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_run_starts_embedded_postgres_and_stops_cleanly() -> None:
    with service_dir("run") as tmp_path:
        _run_and_interrupt(tmp_path)


def _run_and_interrupt(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")} | {
        "SIMCASE_DATA_DIR": str(tmp_path / "data"),
        "SIMCASE_API__PORT": str(port),
        "SIMCASE_DICOM__PORT": str(free_port()),
        # a small demo archive: the same code path as the default 60 cases at 2 mm
        "SIMCASE_DEMO__CASES": "6",
        "SIMCASE_DEMO__RESOLUTION_MM": "4",
    }
    if os.environ.get("SIMCASE_TEST_MODEL_DIR"):
        env["SIMCASE_MODEL_DIR"] = os.environ["SIMCASE_TEST_MODEL_DIR"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "simcase run did not become healthy"
            time.sleep(0.5)
        assert _postgres_processes(tmp_path / "data" / "pgdata")
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "worker started" in output
    assert "demo archive: 6 synthetic cases" in output, output
    assert "storescu -R -aec SIMCASE" in output
    assert "DICOM listener" in output
    deadline = time.monotonic() + 10
    while _postgres_processes(tmp_path / "data" / "pgdata") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postgres_processes(tmp_path / "data" / "pgdata"), "postgres left running"
