"""Concurrent load (issue 15): many senders at once, then whether anything was lost or
processed twice; and the end-to-end latency of studies arriving together.

Part 1, throughput and correctness. ``--senders`` S studies (default 8) of
``--instances`` N MR instances each (default 500; synthetic 1 mm studies, 240x240
16-bit slices, the first N MR files of each), every study sent by its own dcmtk
``storescu`` (TCP_NODELAY=1, one association), all S started together, to
``simcase listen`` (with ``simcase worker`` and the shipped models running, results into
the data folder), to Orthanc and to ``storescp +B``; each receiver fresh for each round.
Figures: instances per second (S x N over the time until the last storescu exits) and
the receiver's CPU seconds per instance, with simcase's ratios (as ``bench/receive.py``).
Then, for simcase: every instance (each storescu exited 0: all acknowledged) is in the
spool byte for byte (its data set after the File Meta Information) and journalled with
that path; every study got exactly one ``process_study`` job, succeeded, and one result
set, whose content hash is that of its N instances. The listener's per-peer limit is
raised to S (``SIMCASE_DICOM__MAX_ASSOCIATIONS_PER_PEER``): every storescu comes from
127.0.0.1, where hospital senders would come from S addresses.

Part 2, latency. ``--latency-studies`` K full studies (4 series x 155 slices, 1 mm)
sent together, each by its own storescu, to ``simcase listen`` + ``simcase worker``
(shipped models, a small indexed archive), results by C-STORE into a real Orthanc.
Latency of a study: from its storescu's exit (its last instance acknowledged) to its
similar-case SR listed by QIDO-RS in Orthanc (``bench/e2e_latency.py``'s measure, one
study at a time there). p50 and p95 over rounds x K; the peer is the same K studies
sent together to storescp (raw transfer). Each study's timeline is printed, in seconds
after its own storescu's exit: its last instance journalled, the listener's declaration
that it is complete, its ``process_study`` job deferred, started and succeeded (the
database's clock, which is this machine's), and its SR queryable; then the CPU seconds
of the listener, the worker and Orthanc from the first instance sent to the last SR, and
the worker's largest resident set meanwhile.
``--resolution 2`` sends 2 mm studies (78 slices a series: quicker, for diagnosis);
``--worker-concurrency N`` sets the worker's jobs at once (``SIMCASE_WORKER__CONCURRENCY``;
default: the worker's own, 2).

    PYTHONPATH=$PWD .venv/bin/python bench/concurrent_load.py --senders 8 --instances 500
    PYTHONPATH=$PWD .venv/bin/python bench/concurrent_load.py --skip-throughput \
        --senders 4 --latency-studies 4 --resolution 2 --rounds 2 --worker-concurrency 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg
import pydicom
from psycopg.conninfo import conninfo_to_dict

from bench.e2e_latency import has_sr, job_timeline, wait_for_listener
from bench.isolation import run_guarded
from bench.receive import CACHE, SEED, Run, cpu_seconds, postgres, report, running_storescp
from indexer.bulk import ImportSummary, discover, index_sources
from indexer.database import create_pool
from indexer.migrate import migrate
from indexer.pipeline import load_models
from indexer.store import PgVectorStore
from models.synth import write_corpus
from tests.conftest import free_port
from tests.e2e.conftest import simcase_env, simcase_processes
from tests.integration.conftest import new_database
from tests.integration.plugin.orthanc_fixture import running_orthanc

ARCHIVE = Path("/tmp/bench-e2e/archive-10")  # as bench/e2e_latency.py names it
Sent = tuple[Run, list[float]]  # the transfer, and each sender's exit (s from the start)


def studies(count: int, resolution_mm: float = 1.0) -> list[list[Path]]:
    """The MR files of ``count`` synthetic studies, one list per study (generated once,
    beside ``bench/receive.py``'s; a cached corpus of more studies is reused)."""
    res = f"{resolution_mm:g}mm"
    cached = sorted(
        (int(p.name.split("-")[1]), p)
        for p in CACHE.glob(f"dicom-*-{res}")
        if p.name.split("-")[1].isdigit() and int(p.name.split("-")[1]) >= count
    )
    dicom = cached[0][1] if cached else CACHE / f"dicom-{count}-{res}"
    if not dicom.is_dir():
        write_corpus(
            CACHE / f"nifti-{count}-{res}",
            count,
            SEED,
            resolution_mm=resolution_mm,
            dicom_dir=dicom,
            workers=2,
        )
    return [
        [
            p
            for p in sorted(study.rglob("*.dcm"))
            if pydicom.dcmread(p, stop_before_pixels=True).Modality == "MR"
        ]
        for study in sorted(p for p in dicom.iterdir() if p.is_dir())
    ][:count]


def send_together(
    aet: str, port: int, groups: list[list[Path]], parts: dict[str, list[int]]
) -> Sent:
    """One storescu per group, all started together; wall time, receiver CPU, exits."""
    before = {name: cpu_seconds(pids) for name, pids in parts.items()}
    exits: list[float] = [0.0] * len(groups)
    failures: list[str] = []
    started = time.perf_counter()

    def one(i: int) -> None:
        done = subprocess.run(
            ["storescu", "-aec", aet, "127.0.0.1", str(port), *map(str, groups[i])],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        exits[i] = time.perf_counter() - started
        if done.returncode != 0:
            failures.append(f"storescu {i} to {aet}:{port}: {done.stderr[-1000:]}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(groups))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError("; ".join(failures))
    time.sleep(0.5)  # work that follows the last acknowledgement (journal rows)
    cpu = {name: cpu_seconds(pids) - before[name] for name, pids in parts.items()}
    return Run(max(exits), cpu), exits


def body(path: Path) -> bytes:
    """A DICOM file's data set: the bytes after its File Meta Information group."""
    data = path.read_bytes()
    if data[128:136] != b"DICM\x02\x00\x00\x00":
        raise RuntimeError(f"{path}: no File Meta group length")
    return data[144 + int.from_bytes(data[140:144], "little") :]


def check_simcase(url: str, groups: list[list[Path]], timeout: float = 900) -> str:
    """Nothing lost, nothing processed twice (see the module's docstring); a summary."""
    sop = {
        p: str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
        for g in groups
        for p in g
    }
    uids = [str(pydicom.dcmread(g[0], stop_before_pixels=True).StudyInstanceUID) for g in groups]
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT sop_instance_uid, path FROM received_instances").fetchall()
    journal = {str(r[0]): Path(r[1]) for r in rows}
    if len(rows) != len(sop) or set(journal) != set(sop.values()):
        raise RuntimeError(f"journal: {len(rows)} rows for {len(sop)} instances sent")
    differ = [p for p, uid in sop.items() if body(journal[uid]) != body(p)]
    if differ:
        raise RuntimeError(f"{len(differ)} spooled instances differ from the sent files")
    query = (
        "SELECT args->>'study_instance_uid', status::text FROM procrastinate_jobs"
        " WHERE task_name LIKE '%process_study'"
    )
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(url) as conn:
            jobs = conn.execute(query).fetchall()
            done = [j for j in jobs if j[1] in ("succeeded", "failed")]
            if {j[0] for j in done} >= set(uids) and len(done) == len(jobs):
                time.sleep(3)  # a second completion would be queued within the debounce
                jobs = conn.execute(query).fetchall()
                sets = conn.execute(
                    "SELECT study_instance_uid, content_hash FROM results"
                ).fetchall()
                break
        if time.monotonic() > deadline:
            raise RuntimeError(f"jobs not finished after {timeout} s: {jobs}")
        time.sleep(0.5)
    if sorted(jobs) != sorted((u, "succeeded") for u in uids):
        raise RuntimeError(f"not one succeeded job per study: {jobs}")
    expected = {
        u: content_hash(sorted(sop[p] for p in g)) for u, g in zip(uids, groups, strict=True)
    }
    if sorted(sets) != sorted(expected.items()):
        raise RuntimeError(f"not one full result set per study: {sets}")
    return (
        f"{len(sop)} instances acknowledged, all spooled byte for byte and journalled;"
        f" {len(uids)} studies, each with 1 job (succeeded) and 1 result set of all its instances"
    )


def content_hash(sop_uids: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(sop_uids).encode()).hexdigest()[:32]


def archive_template(uri: str) -> str:
    """A database with the small archive indexed by the shipped models, to copy for each
    round (``CREATE DATABASE ... TEMPLATE``); its name."""
    if not (ARCHIVE / "cases.csv").is_file():
        write_corpus(ARCHIVE, 10, 4242, resolution_mm=2.0, workers=2)
    url = new_database(uri)
    migrate(url)
    pool = create_pool(url, max_size=2)
    summary = ImportSummary()
    models = load_models()
    index_sources(discover(ARCHIVE, summary), PgVectorStore(pool), models, summary=summary)
    pool.close()
    print(f"archive: {summary.indexed} cases indexed, model {models.model_version}")
    return str(conninfo_to_dict(url)["dbname"])


Receiver = Callable[[list[list[Path]], Path], Sent]


def to_storescp(groups: list[list[Path]], work: Path) -> Sent:
    with running_storescp(work) as (port, out, pid):
        sent = send_together("STORESCP", port, groups, {"storescp": [pid]})
        stored = sum(1 for _ in out.iterdir())
    if stored != sum(map(len, groups)):
        raise RuntimeError(f"storescp stored {stored}")
    return sent


def to_orthanc(groups: list[list[Path]], work: Path) -> Sent:
    with running_orthanc(work / "orthanc") as orthanc:
        sent = send_together(
            orthanc.aet, orthanc.dicom_port, groups, {"orthanc": [orthanc.process.pid]}
        )
        stored = orthanc.get("/statistics")["CountInstances"]
    if stored != sum(map(len, groups)):
        raise RuntimeError(f"Orthanc stored {stored}")
    return sent


def simcase_receiver(uri: str, postmaster: int, template: str) -> Receiver:
    def to_simcase(groups: list[list[Path]], work: Path) -> Sent:
        url = new_database(uri, template)
        port = free_port()
        env = simcase_env(
            url,
            work / "data",
            dicom__host="127.0.0.1",
            dicom__port=str(port),
            dicom__debounce_seconds="0.5",
            dicom__max_associations_per_peer=str(len(groups)),
        )
        with simcase_processes(["listen", "worker"], env, work / "logs") as (listen, _):
            wait_for_listener(port)
            try:
                sent = send_together(
                    "SIMCASE", port, groups, {"listener": [listen.pid], "postgres": [postmaster]}
                )
            except RuntimeError:
                log = (work / "logs" / "listen.log").read_text(errors="replace")
                print("\n".join(x for x in log.splitlines() if "WARNING" in x or "ERROR" in x))
                raise
            print(f"simcase: {check_simcase(url, groups)}", flush=True)
        return sent

    return to_simcase


TIMELINE = ("last_instance", "declared_complete", "deferred", "started", "succeeded", "sr")


def latency(
    uri: str,
    template: str,
    groups: list[list[Path]],
    warm: list[Path],
    work: Path,
    concurrency: int | None = None,
) -> tuple[list[float], list[float], list[dict[str, float]]]:
    """Part 2: each study's storescu exit -> its SR queryable, the exits (seconds from
    the start of the sends), and each study's timeline (seconds after its own storescu's
    exit: last instance journalled, declared complete, job deferred, started, succeeded,
    SR queryable; the listener's and the worker's times on the database's clock, which
    is this machine's). ``concurrency``: the worker's jobs at once (None: its default)."""
    url = new_database(uri, template)
    port = free_port()
    uids = [str(pydicom.dcmread(g[0], stop_before_pixels=True).StudyInstanceUID) for g in groups]
    with running_orthanc(work / "orthanc", simcase_port=port) as orthanc:
        env = simcase_env(
            url,
            work / "data",
            dicom__host="127.0.0.1",
            dicom__port=str(port),
            dicom__debounce_seconds="0.5",
            dicom__max_associations_per_peer=str(len(groups)),
            results__ae_title=orthanc.aet,
            results__host="127.0.0.1",
            results__port=str(orthanc.dicom_port),
        )
        if concurrency is not None:
            env["SIMCASE_WORKER__CONCURRENCY"] = str(concurrency)
        with simcase_processes(["listen", "worker"], env, work / "logs") as (listen, worker):
            wait_for_listener(port)
            parts = {"listener": [listen.pid], "worker": [worker.pid]}
            parts["orthanc"] = [orthanc.process.pid]
            # the worker loads its models on its first job: a study of its own first
            send_together("SIMCASE", port, [warm], {})
            warm_uid = str(pydicom.dcmread(warm[0], stop_before_pixels=True).StudyInstanceUID)
            while not has_sr(orthanc, warm_uid):
                time.sleep(0.1)
            cpu = {name: cpu_seconds(pids) for name, pids in parts.items()}
            origin, wall_origin = time.perf_counter(), time.time()  # exits count from here
            _, exits = send_together("SIMCASE", port, groups, {})
            answered: dict[str, float] = {}
            rss = 0  # the worker's largest resident set seen (sampled every pass)
            while len(answered) < len(uids):
                if time.perf_counter() - origin > 900:
                    raise RuntimeError(f"SRs after 900 s: {len(answered)} of {len(uids)}")
                for uid in uids:
                    if uid not in answered and has_sr(orthanc, uid):
                        answered[uid] = time.perf_counter() - origin
                rss = max(rss, psutil.Process(worker.pid).memory_info().rss)
                time.sleep(0.02)
            print(
                "  CPU s from the first instance sent to the last SR queryable: "
                + ", ".join(f"{n} {cpu_seconds(p) - cpu[n]:.1f}" for n, p in parts.items())
                + f"; the worker's largest RSS {rss / 2**20:.0f} MiB",
                flush=True,
            )
            time.sleep(0.5)  # the job records its end after the send
            timelines = []
            for uid, e in zip(uids, exits, strict=True):
                exited = dt.datetime.fromtimestamp(wall_origin + e, dt.UTC)
                timelines.append({**job_timeline(url, uid, exited), "sr": answered[uid] - e})
    return [answered[u] - e for u, e in zip(uids, exits, strict=True)], exits, timelines


def p95(values: list[float]) -> float:
    return (
        statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--latency-studies", type=int, default=4)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--resolution", type=float, default=1.0, help="mm (1: full size)")
    parser.add_argument(
        "--worker-concurrency", type=int, help="jobs at once in the worker (default: its own)"
    )
    args = parser.parse_args()
    os.environ["TCP_NODELAY"] = "1"  # inherited by storescu, storescp and Orthanc
    corpus = studies(max(args.senders, args.latency_studies + 1), args.resolution)
    groups = [files[: args.instances] for files in corpus[: args.senders]]
    if not args.skip_throughput and any(len(g) < args.instances for g in groups):
        raise RuntimeError(f"a study has fewer than {args.instances} MR instances")
    n = sum(map(len, groups))
    root = Path(tempfile.mkdtemp(prefix="bench-load-"))
    root.chmod(0o755)
    runs: dict[str, list[Run]] = {"simcase": [], "orthanc": [], "storescp": []}
    latencies: list[float] = []
    peer: list[float] = []
    try:
        with postgres(root) as (uri, postmaster):
            template = archive_template(uri)
            receivers: dict[str, Receiver] = {
                "simcase": simcase_receiver(uri, postmaster, template),
                "orthanc": to_orthanc,
                "storescp": to_storescp,
            }
            for round_ in range(args.rounds):
                for name, receive in receivers.items():
                    if args.skip_throughput:
                        break
                    work = root / f"{name}-{round_}"
                    work.mkdir()
                    runs[name].append(receive(groups, work)[0])
                    shutil.rmtree(work, ignore_errors=True)
                full = corpus[: args.latency_studies]
                work = root / f"latency-{round_}"
                work.mkdir()
                peer.append(to_storescp(full, work)[0].seconds)
                lat, exits, timelines = latency(
                    uri, template, full, corpus[args.latency_studies], work, args.worker_concurrency
                )
                latencies += lat
                print(
                    f"round {round_ + 1}: {len(full)} studies together, storescu exits "
                    f"{', '.join(f'{e:.1f}' for e in exits)} s, ack -> SR "
                    f"{', '.join(f'{x:.2f}' for x in lat)} s; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                print("  s after its storescu's exit: " + " ".join(f"{k:>17}" for k in TIMELINE))
                for i, line in enumerate(timelines):
                    print(
                        f"  study {i + 1} (exit {exits[i]:5.1f} s):      "
                        + " ".join(f"{line.get(k, float('nan')):+17.2f}" for k in TIMELINE),
                        flush=True,
                    )
                    other = {k: v for k, v in line.items() if k not in TIMELINE}
                    if other:  # a retry, a failure, a cancel: the job did more than once
                        print(f"    and {other}", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not args.skip_throughput:
        print(f"\npart 1: {args.senders} senders x {args.instances} instances ({n}) at once")
        figures = {name: report(name, r, n) for name, r in runs.items()}
        rate, cpu = figures["simcase"]
        for other in ("orthanc", "storescp"):
            print(
                f"simcase / {other}: {rate / figures[other][0]:.2f} x the instances/s, "
                f"{cpu / figures[other][1]:.2f} x the CPU per instance"
            )
    print(
        f"\npart 2: {args.latency_studies} full studies ({len(corpus[0])} instances each) together"
    )
    print(
        f"ack -> SR queryable: p50 {statistics.median(latencies):.2f} s, p95 {p95(latencies):.2f} s"
        f" (n={len(latencies)}, max {max(latencies):.2f} s)"
    )
    print(f"peer: the same studies together to storescp, transfer {statistics.median(peer):.2f} s")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    run_guarded(main)  # loopback-only network; servers stopped on SIGTERM/SIGINT
