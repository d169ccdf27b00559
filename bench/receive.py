"""Receiving throughput: the same N MR instances to simcase's listener, Orthanc and
dcmtk's ``storescp``, each over one association, in one run.

- sender: dcmtk ``storescu`` with ``TCP_NODELAY=1``, every file on one association
  (the same command line for the three receivers, only the port and AE title change);
- data: MR instances of synthetic studies (``models.synth.write_corpus`` with DICOM,
  1 mm by default: 240x240 16-bit slices; the truth SEG left out), the first N,
  written once into a cache folder;
- receivers, each started fresh for each round (start-up not timed):
  ``simcase listen`` (spool fsynced before each acknowledgement, journal rows in the
  embedded PostgreSQL), Orthanc (the shipped configuration, its SQLite index) and
  ``storescp +B`` (bit-preserving files, no database);
- figures: instances per second (N over storescu's wall time) and the receiver's CPU
  seconds per instance (user + system of its processes during the transfer; for
  simcase the listener process plus the PostgreSQL server, shown separately), the
  median over the rounds, and simcase's ratios to the two peers.

``TCP_NODELAY=1`` is in the environment of the sender and of every receiver: dcmtk
(storescu, storescp, and Orthanc, which is built on it) leaves Nagle's algorithm on
without it, and every instance then waits ~45 ms for a delayed ACK.

    PYTHONPATH=$PWD .venv/bin/python bench/receive.py --instances 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pydicom

from bench.e2e_latency import wait_for_listener
from bench.isolation import run_guarded
from indexer.database import EmbeddedPostgres
from indexer.migrate import migrate
from models.synth import write_corpus
from tests.conftest import free_port
from tests.e2e.conftest import simcase_env, simcase_processes
from tests.integration.conftest import new_database
from tests.integration.plugin.orthanc_fixture import running_orthanc

CACHE = Path(os.environ.get("SIMCASE_BENCH_CACHE", "/tmp/simcase-bench-receive"))
SEED = 1515


@dataclass(frozen=True)
class Run:
    """One transfer: its wall time and the receiver's CPU seconds (by part)."""

    seconds: float
    cpu: dict[str, float]


def mr_files(n: int, resolution_mm: float) -> list[Path]:
    """The first ``n`` MR instances of synthetic studies (generated once)."""
    files = _mr_files_of(1, resolution_mm)
    if len(files) < n:
        cases = -(-n * 11 // (10 * len(files)))  # ceil, with 10 % spare
        files = _mr_files_of(cases, resolution_mm)
    if len(files) < n:
        raise RuntimeError(f"only {len(files)} MR instances generated, {n} asked for")
    return files[:n]


def _mr_files_of(cases: int, resolution_mm: float) -> list[Path]:
    name = f"{cases}-{resolution_mm:g}mm"
    dicom = CACHE / f"dicom-{name}"
    if not dicom.is_dir():
        write_corpus(
            CACHE / f"nifti-{name}",
            cases,
            SEED,
            resolution_mm=resolution_mm,
            dicom_dir=dicom,
            workers=2,
        )
    return [
        p
        for p in sorted(dicom.rglob("*.dcm"))
        if pydicom.dcmread(p, stop_before_pixels=True).Modality == "MR"
    ]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (and their children's, for servers
    that fork per connection)."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def send(aet: str, port: int, files: list[Path], parts: dict[str, list[int]]) -> Run:
    """All ``files`` with one storescu association; the wall time and the CPU of each
    part of the receiver during it."""
    before = {name: cpu_seconds(pids) for name, pids in parts.items()}
    started = time.perf_counter()
    done = subprocess.run(
        ["storescu", "-aec", aet, "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"storescu to {aet}:{port} failed: {done.stderr[-2000:]}")
    time.sleep(0.5)  # work that follows the last acknowledgement (journal rows)
    cpu = {name: cpu_seconds(pids) - before[name] for name, pids in parts.items()}
    return Run(seconds, cpu)


Receiver = Callable[[list[Path], Path], Run]


@contextmanager
def running_storescp(work: Path) -> Iterator[tuple[int, Path, int]]:
    """dcmtk's ``storescp`` (AE title STORESCP, ``+B``: bit-preserving) writing into
    ``work/storescp``: yields its port, that folder and its pid."""
    port = free_port()
    out = work / "storescp"
    out.mkdir()
    proc = subprocess.Popen(["storescp", "-aet", "STORESCP", "-od", str(out), "+B", str(port)])
    try:
        time.sleep(0.5)
        yield port, out, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def to_storescp(files: list[Path], work: Path) -> Run:
    with running_storescp(work) as (port, out, pid):
        run = send("STORESCP", port, files, {"storescp": [pid]})
        stored = sum(1 for _ in out.iterdir())
    if stored != len(files):
        raise RuntimeError(f"storescp stored {stored} of {len(files)}")
    return run


def to_orthanc(files: list[Path], work: Path) -> Run:
    with running_orthanc(work / "orthanc") as orthanc:
        run = send(orthanc.aet, orthanc.dicom_port, files, {"orthanc": [orthanc.process.pid]})
        stored = orthanc.get("/statistics")["CountInstances"]
    if stored != len(files):
        raise RuntimeError(f"Orthanc stored {stored} of {len(files)}")
    return run


@contextmanager
def postgres(work: Path) -> Iterator[tuple[str, int]]:
    """The embedded PostgreSQL: its URI and the postmaster's pid."""
    server = EmbeddedPostgres(work / "pgdata")
    uri = server.start()
    try:
        pid = int((work / "pgdata" / "postmaster.pid").read_text().split()[0])
        yield uri, pid
    finally:
        server.stop()


def simcase_receiver(server: tuple[str, int]) -> Receiver:
    uri, postmaster = server

    def to_simcase(files: list[Path], work: Path) -> Run:
        url = new_database(uri)
        migrate(url)
        port = free_port()
        env = simcase_env(url, work / "data", dicom__host="127.0.0.1", dicom__port=str(port))
        with simcase_processes(["listen"], env, work / "logs") as (listen,):
            wait_for_listener(port)
            run = send("SIMCASE", port, files, {"listener": [listen.pid], "postgres": [postmaster]})
        stored = sum(1 for _ in (work / "data" / "spool").rglob("*.dcm"))
        if stored != len(files):
            raise RuntimeError(f"simcase spooled {stored} of {len(files)}")
        return run

    return to_simcase


def report(name: str, runs: list[Run], n: int) -> tuple[float, float]:
    rate = statistics.median(n / r.seconds for r in runs)
    cpu = statistics.median(sum(r.cpu.values()) / n for r in runs)
    parts = ", ".join(
        f"{part} {statistics.median(r.cpu[part] for r in runs) / n * 1000:.2f}"
        for part in runs[0].cpu
    )
    print(
        f"{name:<10} {rate:8.0f} instances/s  {cpu * 1000:6.2f} ms CPU/instance ({parts})"
        f"  [{', '.join(f'{r.seconds:.1f} s' for r in runs)}]"
    )
    return rate, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--resolution", type=float, default=1.0, help="mm (1 to 4)")
    args = parser.parse_args()
    os.environ["TCP_NODELAY"] = "1"  # inherited by storescu, storescp and Orthanc
    files = mr_files(args.instances, args.resolution)
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} MR instances, {size / 2**20:.1f} MiB, one association each")
    root = Path(tempfile.mkdtemp(prefix="bench-receive-"))
    root.chmod(0o755)
    runs: dict[str, list[Run]] = {"simcase": [], "orthanc": [], "storescp": []}
    try:
        with postgres(root) as server:
            receivers: dict[str, Receiver] = {
                "simcase": simcase_receiver(server),
                "orthanc": to_orthanc,
                "storescp": to_storescp,
            }
            for round_ in range(args.rounds):
                for name, receive in receivers.items():  # interleaved, fresh each round
                    work = root / f"{name}-{round_}"
                    work.mkdir()
                    runs[name].append(receive(files, work))
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = {name: report(name, r, len(files)) for name, r in runs.items()}
    rate, cpu = figures["simcase"]
    for peer in ("orthanc", "storescp"):
        print(
            f"simcase / {peer}: {rate / figures[peer][0]:.2f} x the instances/s, "
            f"{cpu / figures[peer][1]:.2f} x the CPU per instance"
        )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    run_guarded(main)  # loopback-only network; servers stopped on SIGTERM/SIGINT
