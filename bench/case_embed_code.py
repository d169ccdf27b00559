"""Segment + embed of one 1 mm study: this checkout's code against an earlier revision's,
on the same models and the same study, alternating, outputs checked equal.

The earlier revision's ``models`` and ``dicom_conversion`` (``git archive``) and this
checkout each run in a worker process of their own (the tree first on ``PYTHONPATH``),
both loading the model folder ``--models`` (default: the shipped weights) with the same
thread count. The study (a generated 1 mm case, seed ``--seed``) is made once and handed
to both. Each round times ``normalised_channels`` + ``OnnxSegmenter.segment`` +
``OnnxEmbedder.embed_case`` (as the indexer runs them) in one worker, then in the other;
the medians per stage, the ratio and the load average are printed, then whether the
masks are equal bit for bit and how far apart the case vectors are.

    .venv/bin/python bench/case_embed_code.py --baseline-rev b70405f --threads 2 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("normalise", "segment", "embed", "total")


def _serve(study_file: Path, models: Path, threads: int) -> None:
    """The worker: answers ``run`` with one timed segment + embed (JSON), ``save PATH``
    with the last outputs written there, ``quit`` by leaving."""
    from types import SimpleNamespace

    import models as package
    from dicom_conversion import MRSequence
    from models import OnnxEmbedder, OnnxSegmenter, normalised_channels

    stored = np.load(study_file)
    arrays = {MRSequence(k): stored[k] for k in stored.files if k != "affine"}
    study = SimpleNamespace(arrays=arrays, affine=stored["affine"])
    segmenter = OnnxSegmenter.load(models, threads=threads)
    embedder = OnnxEmbedder.load(models, threads=threads)

    def once() -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        cpu, began = time.process_time(), time.perf_counter()
        channels = normalised_channels(study)
        normalised = time.perf_counter()
        mask = segmenter.segment(study, channels=channels)
        segmented = time.perf_counter()
        vector = embedder.embed_case(study, mask, channels=channels)
        done = time.perf_counter()
        times = {
            "normalise": normalised - began,
            "segment": segmented - normalised,
            "embed": done - segmented,
            "total": done - began,
            "cpu": time.process_time() - cpu,
        }
        return times, mask, vector

    _, mask, vector = once()  # warm-up
    print(f"ready {Path(package.__file__).parent}", flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            times, mask, vector = once()
            print(json.dumps(times), flush=True)
        elif command[0] == "save":
            np.savez(command[1], mask=mask, vector=vector)
            print("saved", flush=True)
        else:
            return


class _Worker:
    def __init__(self, tree: Path, study_file: Path, models: Path, threads: int) -> None:
        env = {k: v for k, v in os.environ.items() if k != "SIMCASE_MODEL_DIR"}
        env["PYTHONPATH"] = str(tree)
        self.process = subprocess.Popen(
            [
                *(sys.executable, __file__, "--serve", str(study_file)),
                *("--models", str(models), "--threads", str(threads)),
            ],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.code = self._ask(None)

    def _ask(self, command: str | None) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if not answer:
            raise SystemExit(f"worker exited ({self.process.wait()})")
        return answer

    def run(self) -> dict[str, float]:
        times: dict[str, float] = json.loads(self._ask("run"))
        return times

    def outputs(self, path: Path) -> Any:
        self._ask(f"save {path}")
        return np.load(path)

    def close(self) -> None:
        self._ask_quietly()

    def _ask_quietly(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _unpack(revision: str, into: Path) -> Path:
    """``models`` and ``dicom_conversion`` as they were at ``revision``."""
    archive = subprocess.run(
        ["git", "archive", revision, "models", "dicom_conversion"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-rev")
    parser.add_argument("--models", type=Path, default=ROOT / "models" / "weights")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve, args.models, args.threads)
        return
    if args.baseline_rev is None:
        parser.error("--baseline-rev is required")
    from models.synth import generate_case

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        study = generate_case(args.seed, 0, resolution_mm=1.0).study
        study_file = folder / "study.npz"
        np.savez(
            study_file,
            affine=np.asarray(study.affine),
            **{getattr(k, "value", str(k)): np.asarray(v) for k, v in study.arrays.items()},
        )
        old = _unpack(args.baseline_rev, folder / "baseline")
        sides = {
            "baseline": _Worker(old, study_file, args.models.resolve(), args.threads),
            "current": _Worker(ROOT, study_file, args.models.resolve(), args.threads),
        }
        try:
            _compare(sides, args, folder)
        finally:
            for worker in sides.values():
                worker.close()


def _compare(sides: dict[str, _Worker], args: argparse.Namespace, folder: Path) -> None:
    for name, worker in sides.items():
        print(f"{name}: {worker.code}")
    times: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name, worker in sides.items():
            times[name].append(worker.run())
        loads.append(os.getloadavg()[0])
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f}")
    for name, runs in times.items():
        medians = {k: statistics.median(r[k] for r in runs) for k in (*STAGES, "cpu")}
        print(
            f"{name:8s} median "
            + ", ".join(f"{k} {medians[k]:.3f} s" for k in STAGES)
            + f" (CPU {medians['cpu']:.3f} s)"
        )
    # On a shared machine the fastest run of each stage is the nearest to a quiet one.
    for name, runs in times.items():
        fastest = ", ".join(f"{k} {min(r[k] for r in runs):.3f} s" for k in STAGES)
        print(f"{name:8s} fastest {fastest}")
    ratio = statistics.median(r["total"] for r in times["current"]) / statistics.median(
        r["total"] for r in times["baseline"]
    )
    print(f"current / baseline (total): {ratio:.2f}")
    old = sides["baseline"].outputs(folder / "baseline.npz")
    new = sides["current"].outputs(folder / "current.npz")
    same_mask = bool(np.array_equal(old["mask"], new["mask"]))
    gap = float(np.max(np.abs(old["vector"] - new["vector"])))
    print(f"masks equal bit for bit: {same_mask}; case vectors max |difference| {gap:.2e}")


if __name__ == "__main__":
    main()
