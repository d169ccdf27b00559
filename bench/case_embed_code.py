"""Segment + embed of one 1 mm study: this checkout's code against an earlier revision's,
on the same models and the same study, alternating, outputs checked equal.

The earlier revision's ``models`` and ``dicom_conversion`` (``git archive``) and this
checkout each run in a worker process of their own (the tree first on ``PYTHONPATH``),
both loading the model folder ``--models`` (default: the shipped weights) with the same
thread count. The study (a generated 1 mm case, seed ``--seed``) is made once and handed
to both. Each round times ``normalised_channels`` + ``OnnxSegmenter.segment`` +
``OnnxEmbedder.embed_case`` (as the indexer runs them) in one worker, then in the other;
the medians per stage (wall clock and the worker's CPU time), the fastest run of each,
the ratio and the load average are printed, then the CPU time of the stages after the
networks each called alone (the labels back on the study grid, the tumour slices, the
signs), then whether the masks are equal bit for bit and how far apart the case
vectors are.

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
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("normalise", "segment", "embed", "total")


def _serve(study_file: Path, models: Path, threads: int, spinning: bool) -> None:
    """The worker: answers ``run`` with one timed segment + embed (JSON), ``save PATH``
    with the last outputs written there, ``quit`` by leaving. ``spinning``: this
    checkout's ONNX sessions with onnxruntime's spinning threads (its default)."""
    from functools import partial
    from types import SimpleNamespace

    import models as package
    from dicom_conversion import MRSequence
    from models import OnnxEmbedder, OnnxSegmenter, normalised_channels

    if spinning:  # this checkout only: earlier revisions' sessions always spin
        import models.embedder as embedder_module
        import models.segmenter as segmenter_module
        from models.onnx_session import cpu_session

        spinning_session = partial(cpu_session, spinning=True)
        segmenter_module.cpu_session = spinning_session  # type: ignore[attr-defined]
        embedder_module.cpu_session = spinning_session  # type: ignore[attr-defined]

    stored = np.load(study_file)
    arrays = {MRSequence(k): stored[k] for k in stored.files if k != "affine"}
    study = SimpleNamespace(arrays=arrays, affine=stored["affine"])
    segmenter = OnnxSegmenter.load(models, threads=threads)
    embedder = OnnxEmbedder.load(models, threads=threads)

    def once() -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        clocks = [(time.perf_counter(), time.process_time())]
        channels = normalised_channels(study)
        clocks.append((time.perf_counter(), time.process_time()))
        mask = segmenter.segment(study, channels=channels)
        clocks.append((time.perf_counter(), time.process_time()))
        vector = embedder.embed_case(study, mask, channels=channels)
        clocks.append((time.perf_counter(), time.process_time()))
        times = {"total": clocks[-1][0] - clocks[0][0], "cpu": clocks[-1][1] - clocks[0][1]}
        for stage, before, after in zip(STAGES, clocks, clocks[1:], strict=False):
            times[stage] = after[0] - before[0]
            times[f"{stage} cpu"] = after[1] - before[1]
        return times, mask, vector

    _, mask, vector = once()  # warm-up
    parts = _parts(study, segmenter, mask)
    print(f"ready {Path(package.__file__).parent}", flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            times, mask, vector = once()
            print(json.dumps(times), flush=True)
        elif command[0] == "parts":
            print(json.dumps({name: _clocked(part) for name, part in parts.items()}), flush=True)
        elif command[0] == "save":
            np.savez(command[1], mask=mask, vector=vector)
            print("saved", flush=True)
        else:
            return


def _clocked(call: Callable[[], object]) -> float:
    """The CPU seconds of one call (all its threads)."""
    began = time.process_time()
    call()
    return time.process_time() - began


def _parts(study: Any, segmenter: Any, mask: np.ndarray) -> dict[str, Callable[[], object]]:
    """The stages after the networks, each on the same inputs in both workers: the labels
    back on the study grid, the tumour slices (with their context planes), the signs."""
    from models import normalised_channels
    from models import segmenter as module
    from models.signs import tumour_signs
    from models.slices import select_tumour_slices
    from models.study_arrays import voxel_spacing

    channels = normalised_channels(study)
    grid = module.segmenter_grid_shape(channels.shape[1:], voxel_spacing(study.affine))
    small = module.resample_channels(channels, grid)
    box = module.brain_box(np.any(small != 0, axis=0))
    padded, valid = module.pad_to_multiple(small[(slice(None), *box)])
    logits = np.ascontiguousarray(
        segmenter._run(padded[None])[0][:, : valid[0], : valid[1], : valid[2]]
    )
    offset = (box[0].start or 0, box[1].start or 0, box[2].start or 0)
    shape = channels.shape[1:]
    return {
        "labels": lambda: module._labels_on_study_grid(logits, offset, grid, shape),
        "slices": lambda: select_tumour_slices(study, mask, channels=channels),
        "signs": lambda: tumour_signs(channels, mask, study.affine),
    }


class _Worker:
    def __init__(
        self, tree: Path, study_file: Path, models: Path, threads: int, spinning: bool = False
    ) -> None:
        env = {k: v for k, v in os.environ.items() if k != "SIMCASE_MODEL_DIR"}
        env["PYTHONPATH"] = str(tree)
        self.process = subprocess.Popen(
            [
                *(sys.executable, __file__, "--serve", str(study_file)),
                *("--models", str(models), "--threads", str(threads)),
                *(["--spinning"] if spinning else []),
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

    def parts(self) -> dict[str, float]:
        cpu: dict[str, float] = json.loads(self._ask("parts"))
        return cpu

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
    parser.add_argument(
        "--with-spinning",
        action="store_true",
        help="a third worker: this checkout with onnxruntime's spinning threads",
    )
    parser.add_argument("--spinning", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve, args.models, args.threads, args.spinning)
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
        if args.with_spinning:
            sides["spinning"] = _Worker(
                ROOT, study_file, args.models.resolve(), args.threads, spinning=True
            )
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
        medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{name:8s} median " + ", ".join(f"{k} {medians[k]:.3f} s" for k in STAGES))
        cpu = ", ".join(f"{k} {medians[k + ' cpu']:.3f} s" for k in STAGES[:-1])
        print(f"{name:8s} CPU    {cpu}, total {medians['cpu']:.3f} s")
    # On a shared machine the fastest run of each stage is the nearest to a quiet one.
    for name, runs in times.items():
        fastest = ", ".join(f"{k} {min(r[k] for r in runs):.3f} s" for k in STAGES)
        print(f"{name:8s} fastest {fastest}")
    ratio = statistics.median(r["total"] for r in times["current"]) / statistics.median(
        r["total"] for r in times["baseline"]
    )
    print(f"current / baseline (total): {ratio:.2f}")
    if "spinning" in times:
        current = statistics.median(r["total"] for r in times["current"])
        spun = statistics.median(r["total"] for r in times["spinning"])
        print(f"current / current with spinning threads (total): {current / spun:.2f}")
    parts: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, worker in sides.items():
            parts[name].append(worker.parts())
    for name, runs in parts.items():
        cpu = ", ".join(f"{k} {statistics.median(r[k] for r in runs) * 1000:.1f}" for k in runs[0])
        print(
            f"{name:8s} CPU ms of the parts (called alone: slices and signs find the brain): {cpu}"
        )
    old = sides["baseline"].outputs(folder / "baseline.npz")
    new = sides["current"].outputs(folder / "current.npz")
    same_mask = bool(np.array_equal(old["mask"], new["mask"]))
    gap = float(np.max(np.abs(old["vector"] - new["vector"])))
    print(f"masks equal bit for bit: {same_mask}; case vectors max |difference| {gap:.2e}")


if __name__ == "__main__":
    main()
