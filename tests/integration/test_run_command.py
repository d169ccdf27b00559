"""`simcase run` on the embedded PostgreSQL: starts, prints the page URL first and a
`simcase send` line that works, answers the demo query sent with it (results and
metrics), stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pydicom
import pytest
from prometheus_client.parser import text_string_to_metric_families

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


def _metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _send_line(lines: list[str]) -> list[str]:
    """The printed ``simcase send`` command, as argv."""
    for line in lines:
        if " send " in line and "--port" in line:
            return shlex.split(line.strip())
    raise AssertionError("no `simcase send` line:\n" + "".join(lines))


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
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(iter(proc.stdout.readline, ""))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, "".join(lines)
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "simcase run did not become healthy"
            time.sleep(0.5)
        assert _postgres_processes(tmp_path / "data" / "pgdata")
        # The page's URL is the first thing printed; then a send line that works here.
        first = next(line for line in lines if line.startswith("simcase:"))
        assert first.startswith(f"simcase: open http://127.0.0.1:{port}/"), first
        send = subprocess.run(
            _send_line(lines), env=env, capture_output=True, text=True, timeout=120
        )
        assert send.returncode == 0, send.stdout + send.stderr
        assert " 0 not stored" in send.stdout, send.stdout
        query_files = list((tmp_path / "data").rglob("query-dicom/**/*.dcm"))
        study_uid = str(pydicom.dcmread(query_files[0], stop_before_pixels=True).StudyInstanceUID)
        results = tmp_path / "data" / "results" / study_uid
        while len(list(results.glob("*.dcm"))) < 5:  # montage, SEG, 2 TID 1500, report
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline + 300, "no results:\n" + "".join(lines)
            time.sleep(1)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert "worker started" in output
    assert "demo archive: 6 synthetic cases" in output, output
    assert "DICOM listener" in output
    assert _metric(metrics, "simcase_instances_received_total") == len(query_files)
    assert _metric(metrics, "simcase_studies_received_total", source="spool") == 1
    assert _metric(metrics, "simcase_studies_processed_total", outcome="answered") == 1
    assert _metric(metrics, "simcase_stage_seconds_count", stage="segment") == 1
    assert _metric(metrics, "simcase_stage_seconds_count", stage="embed") == 1
    # From the last acknowledged instance to the results delivered, once.
    assert _metric(metrics, "simcase_study_latency_seconds_count", source="spool") == 1
    assert 0 < _metric(metrics, "simcase_study_latency_seconds_sum", source="spool") < 600
    assert _metric(metrics, "simcase_archive_cases", state="active") == 6
    assert _metric(metrics, "simcase_model_info", state="active") == 1
    deadline = time.monotonic() + 10
    while _postgres_processes(tmp_path / "data" / "pgdata") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postgres_processes(tmp_path / "data" / "pgdata"), "postgres left running"
