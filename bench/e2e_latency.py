"""End-to-end latency of the PACS push path (issue 7), side by side with raw transfer.

For each of N full-size query studies (4 series x 155 slices of 240x240, 1 mm), sent
with dcmtk's ``storescu -R +sd +r`` (TCP_NODELAY=1):

- simcase: straight to ``simcase listen`` (short debounce) with ``simcase worker``
  running; results go by C-STORE into a real Orthanc. Latency is measured from
  storescu's exit (the last instance acknowledged and the association released) to
  the SR being listed by QIDO-RS on ``/dicom-web/studies/<uid>/series``.
- peer: the same study with the same storescu to dcmtk's ``storescp`` writing files,
  which gives the raw transfer time; Orthanc's default ``StableAge`` of 60 s is the
  other anchor (a study forwarded on stability cannot start before it).

The stage breakdown does not come from the timed runs: procrastinate keeps no return
values and simcase's logging silences its success lines, so once the timed runs are
over ``process_study`` is run again in the benchmark's own process on each spooled
study (its results cleared first, so it does the whole work) and its stage timings
(wall and CPU) are printed. The job's own timeline (last instance journalled, study
declared complete, job deferred, started, succeeded) comes from the database.

The benchmark runs in a network namespace of its own with only loopback (dcmtk's
``storescp`` cannot bind an address and Orthanc's DICOM port listens on every
interface: there, neither listens anywhere else), and SIGTERM, SIGHUP or SIGINT
(``timeout``, ``kill``, Ctrl-C) stops its listener, worker, Orthanc, ``storescp`` and
PostgreSQL before it exits (``bench/isolation.py``). Run from the repository root:

    make bench BENCH=e2e_latency ARGS="--cases 5 --debounce 0.5"

``--receive-only`` times only the transfer: the same studies to ``simcase listen`` (no
worker, no Orthanc) and to ``storescp``, interleaved, median of the N studies.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pydicom

from bench.isolation import run_guarded
from indexer.bulk import ImportSummary, discover, index_sources
from indexer.database import EmbeddedPostgres, create_pool
from indexer.migrate import migrate
from indexer.pipeline import load_models
from indexer.store import PgVectorStore
from models.synth import write_corpus
from plugin.results.build import SR_SERIES_NUMBER
from tests.conftest import free_port
from tests.e2e.conftest import simcase_env, simcase_processes
from tests.integration.plugin.orthanc_fixture import OrthancServer, running_orthanc

CACHE = Path("/tmp/bench-e2e")
QUERY_SEED = 777
ARCHIVE_SEED = 4242
WARMUP_SEED = 778
STAGES = (
    *("load_files", "load", "segment", "embed", "search", "build", "send"),
    *("outline", "send_outline"),
)


def study_uid(folder: Path) -> str:
    first = next(folder.rglob("*.dcm"))
    return str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)


def corpora(n_cases: int, archive_cases: int) -> tuple[list[Path], Path]:
    """Query DICOM studies (1 mm) and a small 2 mm archive, generated once into CACHE."""
    nifti, dicom = CACHE / f"nifti-{n_cases}", CACHE / f"dicom-{n_cases}"
    if not (nifti / "cases.csv").is_file():
        write_corpus(nifti, n_cases, QUERY_SEED, resolution_mm=1.0, dicom_dir=dicom, workers=2)
    archive = CACHE / f"archive-{archive_cases}"
    if not (archive / "cases.csv").is_file():
        write_corpus(archive, archive_cases, ARCHIVE_SEED, resolution_mm=2.0, workers=2)
    warm = CACHE / "warmup-dicom"
    if not warm.is_dir():
        write_corpus(CACHE / "warmup", 1, WARMUP_SEED, resolution_mm=2.0, dicom_dir=warm)
    return sorted(p for p in dicom.iterdir() if p.is_dir()), archive


def mr_series(study: Path) -> list[str]:
    """The study's MR series folders (the synthetic corpus also writes a SEG of the
    truth, which a scanner would not send: without it simcase segments the tumour)."""
    keep = []
    for folder in sorted(p for p in study.iterdir() if p.is_dir()):
        first = next(folder.glob("*.dcm"))
        if pydicom.dcmread(first, stop_before_pixels=True).Modality == "MR":
            keep.append(str(folder))
    return keep


def storescu(aet: str, port: int, study: Path) -> float:
    """Send a study's MR series in one association; return the time until storescu exits."""
    folders = mr_series(study)
    started = time.perf_counter()
    done = subprocess.run(
        ["storescu", "-R", "+sd", "+r", "-aec", aet, "127.0.0.1", str(port), *folders],
        env={**os.environ, "TCP_NODELAY": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"storescu to {aet}:{port} failed: {done.stderr[-2000:]}")
    return elapsed


def wait_for_listener(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(
        ["echoscu", "-aec", "SIMCASE", "127.0.0.1", str(port)], capture_output=True
    ).returncode:
        if time.monotonic() > deadline:
            raise RuntimeError(f"simcase listener not answering on port {port}")
        time.sleep(0.5)


def has_sr(orthanc: OrthancServer, uid: str) -> bool:
    """Whether the similar-case report (series number 9902; the TID 1500 SR that may come
    before it is 9904) is listed by QIDO-RS."""
    response = httpx.get(f"{orthanc.dicomweb_url}/studies/{uid}/series", timeout=10)
    if response.status_code == 204 or not response.content:
        return False
    response.raise_for_status()
    return any(
        s.get("00080060", {}).get("Value", [""])[0] == "SR"
        and s.get("00200011", {}).get("Value", [0])[0] == SR_SERIES_NUMBER
        for s in response.json()
    )


def wait_for_sr(orthanc: OrthancServer, uid: str, timeout: float = 300) -> float:
    started = time.perf_counter()
    while not has_sr(orthanc, uid):
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"no SR for {uid} after {timeout} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def db_now(url: str) -> dt.datetime:
    """The database's clock (the listener's and the worker's timestamps use it)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def job_timeline(url: str, uid: str, since: dt.datetime) -> dict[str, float]:
    """Seconds from ``since`` (storescu's exit, database clock) to the study's last
    journalled instance, the listener's declaration that the study is complete, and its
    ``process_study`` job's procrastinate events (deferred, started, succeeded), for the
    latest job of the study."""
    with psycopg.connect(url) as conn:
        intake = conn.execute(
            "SELECT last_received_at, completed_at FROM intake_studies"
            " WHERE study_instance_uid = %s",
            (uid,),
        ).fetchone()
        events = conn.execute(
            "SELECT e.type::text, max(e.at) FROM procrastinate_events e"
            " JOIN procrastinate_jobs j ON j.id = e.job_id"
            " WHERE j.args->>'study_instance_uid' = %s"
            " GROUP BY e.type",
            (uid,),
        ).fetchall()
    found = {str(kind): (at - since).total_seconds() for kind, at in events if at}
    if intake is not None:
        found["last_instance"] = (intake[0] - since).total_seconds()
        if intake[1] is not None:  # the listener's declaration (the database's clock)
            found["declared_complete"] = (intake[1] - since).total_seconds()
    return found


def stage_timings(
    url: str, env: dict[str, str], uids: list[str]
) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """Re-run ``process_study`` in this process on each spooled study (results rows
    cleared first, so it does the whole work again) and return its stage timings
    (wall clock, and CPU seconds of this process).

    The worker's own job results are not kept: procrastinate stores no return values
    and simcase's logging silences procrastinate's success lines.
    """
    from plugin.jobs import worker_resources
    from plugin.processing import process_study
    from plugin.settings import Settings

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        settings = Settings()
        resources = worker_resources(settings, url)
        found: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        for uid in [uids[0], *uids]:  # the first run warms the models up
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DELETE FROM results WHERE study_instance_uid = %s", (uid,))
            outcome = process_study(uid, "spool", resources, settings)
            found[uid] = (outcome.timings_s, outcome.cpu_s)
        return found
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def storescp(work: Path) -> Iterator[Callable[[Path], float]]:
    """dcmtk's storescp writing files; yields ``send(study) -> storescu seconds``."""
    port = free_port()
    out = work / "storescp"
    out.mkdir()
    proc = subprocess.Popen(
        ["storescp", "-aet", "STORESCP", "-od", str(out), "+B", str(port)],
        env={**os.environ, "TCP_NODELAY": "1"},
    )

    def send(study: Path) -> float:
        elapsed = storescu("STORESCP", port, study)
        for f in out.iterdir():
            f.unlink()
        return elapsed

    try:
        time.sleep(0.5)
        yield send
    finally:
        proc.terminate()
        proc.wait(10)


def receive_only(studies: list[Path]) -> None:
    """``storescu`` to ``simcase listen`` and to ``storescp``, interleaved; print medians."""
    work = Path(tempfile.mkdtemp(prefix="bench-recv-"))
    work.chmod(0o755)
    pg = EmbeddedPostgres(work / "pgdata")
    try:
        url = pg.start()
        migrate(url)
        port = free_port()
        env = simcase_env(url, work / "data", dicom__host="127.0.0.1", dicom__port=str(port))
        sends, peer = [], []
        with simcase_processes(["listen"], env, work / "logs"), storescp(work) as to_peer:
            wait_for_listener(port)
            for folder in studies:
                peer.append(to_peer(folder))
                sends.append(storescu("SIMCASE", port, folder))
                print(
                    f"{folder.name}: storescu -> storescp {peer[-1]:.2f} s, "
                    f"-> simcase listen {sends[-1]:.2f} s",
                    flush=True,
                )
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM received_instances").fetchone()
        print(f"instances journalled: {row[0] if row else 0}")
    finally:  # a signal is a SystemExit here (run_guarded): the folder goes too
        try:
            pg.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"median storescu -> simcase listen: {statistics.median(sends):.2f} s")
    print(f"median storescu -> dcmtk storescp (peer): {statistics.median(peer):.2f} s")
    print(f"load average: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--archive-cases", type=int, default=30)
    parser.add_argument("--debounce", type=float, default=0.5)
    parser.add_argument("--model-dir", type=Path, default=os.environ.get("SIMCASE_MODEL_DIR"))
    parser.add_argument("--receive-only", action="store_true", help="time the transfer only")
    args = parser.parse_args()
    if args.model_dir is not None:
        os.environ["SIMCASE_TEST_MODEL_DIR"] = str(args.model_dir)
    studies, archive = corpora(args.cases, args.archive_cases)
    if args.receive_only:
        receive_only(studies)
        return
    uids = [study_uid(s) for s in studies]
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    work.chmod(0o755)
    pg = EmbeddedPostgres(work / "pgdata")
    try:
        url = pg.start()
        migrate(url)
        models = load_models(args.model_dir)
        pool = create_pool(url, max_size=2)
        summary = ImportSummary()
        index_sources(discover(archive, summary), PgVectorStore(pool), models, summary=summary)
        pool.close()
        print(f"archive: {summary.indexed} cases indexed, model {models.model_version}")

        peer: list[float] = []
        listener_port = free_port()
        with running_orthanc(work / "orthanc", simcase_port=listener_port) as orthanc:
            env = simcase_env(
                url,
                work / "data",
                dicom__host="127.0.0.1",
                dicom__port=str(listener_port),
                dicom__debounce_seconds=str(args.debounce),
                results__ae_title=orthanc.aet,
                results__host="127.0.0.1",
                results__port=str(orthanc.dicom_port),
            )
            if args.model_dir is not None:
                env["SIMCASE_MODEL_DIR"] = str(args.model_dir)
            logs = work / "logs"
            with simcase_processes(["listen", "worker"], env, logs), storescp(work) as to_peer:
                wait_for_listener(listener_port)
                # The worker loads its models on its first job: one small study, timed
                # apart, warms it up.
                warm = next(p for p in (CACHE / "warmup-dicom").iterdir() if p.is_dir())
                storescu("SIMCASE", listener_port, warm)
                cold = wait_for_sr(orthanc, study_uid(warm))
                print(f"warm-up study (2 mm, first job of the worker): ack -> SR {cold:.2f} s")
                sends, latencies, timelines = [], [], []
                for folder, uid in zip(studies, uids, strict=True):
                    peer.append(to_peer(folder))  # interleaved: same load for both
                    sends.append(storescu("SIMCASE", listener_port, folder))
                    exited = db_now(url)
                    latencies.append(wait_for_sr(orthanc, uid))
                    time.sleep(0.3)  # the job records its results after the send
                    timelines.append(job_timeline(url, uid, exited))
                    print(
                        f"{uid[-12:]}: storescu -> storescp {peer[-1]:.2f} s, "
                        f"-> simcase {sends[-1]:.2f} s, "
                        f"ack -> SR queryable {latencies[-1]:.2f} s; job (s after ack) "
                        + ", ".join(f"{k} {v:+.2f}" for k, v in timelines[-1].items()),
                        flush=True,
                    )
                time.sleep(1)
            stages = stage_timings(url, env, uids)
    finally:  # a signal is a SystemExit here (run_guarded): the folder goes too
        try:
            pg.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'study':>14} {'ack->SR':>8} " + " ".join(f"{s:>13}" for s in STAGES))
    for uid, lat in zip(uids, latencies, strict=True):
        t, cpu = stages.get(uid, ({}, {}))
        print(
            f"{uid[-14:]:>14} {lat:8.2f} "
            + " ".join(f"{t.get(s, float('nan')):13.3f}" for s in STAGES)
        )
        print(
            f"{'cpu':>14} {'':8} " + " ".join(f"{cpu.get(s, float('nan')):13.3f}" for s in STAGES)
        )
    med = statistics.median(latencies)
    print()
    print(f"median ack -> SR queryable (simcase, debounce {args.debounce} s): {med:.2f} s")
    for s in STAGES:
        vals = [stages[u][0][s] for u in uids if u in stages and s in stages[u][0]]
        cpus = [stages[u][1][s] for u in uids if u in stages and s in stages[u][1]]
        if vals:
            print(
                f"  median {s:>13}: {statistics.median(vals):.3f} s"
                f" (cpu {statistics.median(cpus) if cpus else float('nan'):.3f} s)"
            )
    walls = [sum(stages[u][0].values()) for u in uids if u in stages]
    cpus = [sum(stages[u][1].values()) for u in uids if u in stages]
    print(
        f"  median sum of stages: {statistics.median(walls):.3f} s"
        f" (cpu {statistics.median(cpus):.3f} s)"
    )
    for event in ("last_instance", "declared_complete", "deferred", "started", "succeeded"):
        vals = [t[event] for t in timelines if event in t]
        if vals:
            print(f"  median {event:>13}: {statistics.median(vals):+.3f} s after storescu's exit")
    print(f"median storescu -> simcase listener:  {statistics.median(sends):.2f} s")
    raw = statistics.median(peer)
    print(f"median storescu -> dcmtk storescp (peer, raw transfer): {raw:.2f} s")
    print(f"ratio simcase ack->SR / peer raw transfer: {med / raw:.1f}")
    print(f"ratio simcase ack->SR / Orthanc StableAge 60 s: {med / 60:.3f}")
    print(f"load average: {os.getloadavg()}")
    sys.exit(0)


if __name__ == "__main__":
    run_guarded(main)  # loopback-only network; servers stopped on SIGTERM/SIGINT
