"""Fixtures of the end-to-end tests: a demo archive, a query study, simcase processes,
and the push loop (Orthanc with the forward script -> simcase listen + worker -> results
back into Orthanc) that the PACS-loop and viewer tests share."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pydicom
import pytest

from indexer.bulk import ImportSummary, discover, index_sources
from indexer.database import create_pool
from indexer.pipeline import load_models
from indexer.store import PgVectorStore
from models.synth import write_corpus
from plugin.orthanc.config import forward_script_path
from tests.conftest import free_port
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    database_url,
    pg_server,
    service_dir,
    template_db,
)
from tests.integration.plugin.orthanc_fixture import OrthancServer, running_orthanc

#: The models under test: the shipped weights unless SIMCASE_TEST_MODEL_DIR names others.
MODEL_DIR = (
    Path(os.environ["SIMCASE_TEST_MODEL_DIR"]) if os.environ.get("SIMCASE_TEST_MODEL_DIR") else None
)

ARCHIVE_SEED = 4242
QUERY_SEED = 9191
#: Orthanc's StableAge in the tests (its default is 60 s).
STABLE_AGE_S = 2
RESULT_TIMEOUT_S = 180
#: simcase's result series per searchable study: montage (OT), SEG, TID 1500 SR, report SR.
RESULT_SERIES = 5
CHROMIUM = os.environ.get("SIMCASE_CHROMIUM", "/usr/bin/chromium")
#: The flags of docs' verified headless chromium (see the Orthanc/OHIF notes).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPORT_DESCRIPTION = "simcase similar cases report (not for diagnostic use)"


@dataclass(frozen=True)
class QueryStudy:
    dicom_dir: Path
    study_instance_uid: str
    diagnosis: str


@pytest.fixture(scope="session")
def chromium() -> str:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def archive(e2e_root: Path) -> Path:
    out = e2e_root / "archive"
    write_corpus(out, 45, ARCHIVE_SEED, resolution_mm=2.0, workers=2)
    return out


@pytest.fixture(scope="session")
def query_study(e2e_root: Path) -> QueryStudy:
    out = e2e_root / "query"
    write_corpus(out, 1, QUERY_SEED, resolution_mm=2.0, dicom_dir=e2e_root / "query-dicom")
    with (out / "cases.csv").open() as f:
        row = next(csv.DictReader(f))
    case_dir = e2e_root / "query-dicom" / row["case_id"]
    import pydicom

    first = next(case_dir.rglob("*.dcm"))
    uid = str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)
    return QueryStudy(case_dir, uid, row["diagnosis"])


@pytest.fixture
def indexed_archive(archive: Path, database_url: str) -> str:  # noqa: F811
    """The database with the archive indexed by the shipped models."""
    pool = create_pool(database_url, max_size=2)
    try:
        summary = ImportSummary()
        index_sources(
            discover(archive, summary), PgVectorStore(pool), load_models(MODEL_DIR), summary=summary
        )
        assert summary.indexed == 45, summary.to_dict()
    finally:
        pool.close()
    return database_url


def simcase_env(url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")}
    env |= {"SIMCASE_DATABASE_URL": url, "SIMCASE_DATA_DIR": str(data_dir)}
    env |= {f"SIMCASE_{k.upper()}": v for k, v in settings.items()}
    env["PYTHONUNBUFFERED"] = "1"
    if MODEL_DIR is not None:
        env["SIMCASE_MODEL_DIR"] = str(MODEL_DIR)
    return env


@contextlib.contextmanager
def simcase_processes(
    commands: list[str], env: dict[str, str], logs: Path, *, verbose: bool = False
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``simcase [--verbose] <command>`` for each command; SIGINT them at the end."""
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    try:
        for command in commands:
            out = (logs / f"{command}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "plugin.cli",
                        *(["--verbose"] if verbose else []),
                        command,
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        time.sleep(0.5)
        for proc, command in zip(procs, commands, strict=True):
            assert proc.poll() is None, (logs / f"{command}.log").read_text()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class PushLoop:
    """A running push loop: Orthanc forwarding stable MR studies to simcase's listener."""

    orthanc: OrthancServer
    database_url: str
    logs: Path


@pytest.fixture
def push_loop(indexed_archive: str, tmp_path: Path) -> Iterator[PushLoop]:
    """Orthanc (StableAge 2 s, simcase_forward.py in C-STORE mode) and ``simcase listen``
    (bound to 127.0.0.1, 1 s debounce) + ``simcase worker`` sending results back by C-STORE."""
    listener_port = free_port()
    logs = tmp_path / "logs"
    with running_orthanc(
        tmp_path / "orthanc",
        stable_age=STABLE_AGE_S,
        simcase_port=listener_port,
        forward_script=forward_script_path(),
        forward_settings={"Mode": "cstore", "Modality": "simcase"},
    ) as orthanc:
        env = simcase_env(
            indexed_archive,
            tmp_path / "data",
            dicom__host="127.0.0.1",
            dicom__port=str(listener_port),
            dicom__allowed_aes="ORTHANC",
            dicom__debounce_seconds="1",
            results__ae_title=orthanc.aet,
            results__host="127.0.0.1",
            results__port=str(orthanc.dicom_port),
        )
        with simcase_processes(["listen", "worker"], env, logs):
            wait_for_log(logs / "listen.log", "DICOM listener SIMCASE on")
            wait_for_log(logs / "worker.log", "worker started")
            yield PushLoop(orthanc, indexed_archive, logs)


def wait_for_log(log: Path, text: str, timeout: float = 120.0) -> None:
    """Wait until a simcase process's log says ``text`` (it is ready, not just started).

    A process importing torch on a loaded machine takes seconds; a fixed sleep lets the
    test race it (a follower that starts after the study became stable skips it).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # rich wraps long lines: compare with the whitespace collapsed
        if log.exists() and " ".join(text.split()) in " ".join(
            log.read_text(errors="replace").split()
        ):
            return
        time.sleep(0.2)
    raise AssertionError(
        f"{log.name} never said {text!r} in {timeout:.0f} s\n"
        + (log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)")
    )


def storescu_folder(orthanc: OrthancServer, folder: Path) -> None:
    """Send every file under ``folder`` to Orthanc with dcmtk's storescu."""
    done = subprocess.run(
        [
            "storescu",
            "-R",  # propose the files' own SOP classes (SEG is not in the default list)
            "+sd",
            "+r",
            "-aec",
            orthanc.aet,
            "127.0.0.1",
            str(orthanc.dicom_port),
            str(folder),
        ],
        env={**os.environ, "TCP_NODELAY": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:] + orthanc.log_text()[-3000:]


def result_series(orthanc: OrthancServer, study_uid: str) -> list[dict[str, Any]]:
    """The study's series written by simcase (Manufacturer simcase): Orthanc's main tags."""
    found = orthanc.post(
        "/tools/find",
        {"Level": "Series", "Query": {"StudyInstanceUID": study_uid}, "Expand": True},
    )
    return [
        s["MainDicomTags"]
        for s in found
        if s["MainDicomTags"].get("Manufacturer", "").strip().lower() == "simcase"
    ]


def wait_for_results(
    orthanc: OrthancServer, study_uid: str, logs: Path, series: int = RESULT_SERIES
) -> list[dict[str, Any]]:
    """Wait until the study holds ``series`` simcase series; their main tags."""
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while time.monotonic() < deadline:
        found = result_series(orthanc, study_uid)
        if len(found) >= series:
            return found
        time.sleep(1)
    dump = "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(logs.glob("*.log")))
    raise AssertionError(
        f"not {series} simcase series in the study after {RESULT_TIMEOUT_S} s\n{dump}"
    )


def fetch_instances(orthanc: OrthancServer, study_uid: str, folder: Path) -> list[Path]:
    """Download simcase's result instances from Orthanc as files."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = orthanc.post(
        "/tools/find", {"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}}
    )
    paths = []
    for instance_id in ids:
        data = httpx.get(f"{orthanc.url}/instances/{instance_id}/file", timeout=30).content
        path = folder / f"{instance_id}.dcm"
        path.write_bytes(data)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if str(ds.get("Manufacturer", "")) == "simcase":
            paths.append(path)
        else:
            path.unlink()
    return paths


def sr_text(ds: pydicom.Dataset) -> str:
    """An SR's content as ``concept: value`` lines, depth first."""
    parts: list[str] = []

    def walk(items: Any) -> None:
        for item in items:
            name = (
                item.ConceptNameCodeSequence[0].CodeMeaning
                if "ConceptNameCodeSequence" in item
                else ""
            )
            value = item.get("TextValue", "")
            if "MeasuredValueSequence" in item:
                value = str(item.MeasuredValueSequence[0].NumericValue)
            parts.append(f"{name}: {value}")
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(ds.ContentSequence)
    return "\n".join(parts)
