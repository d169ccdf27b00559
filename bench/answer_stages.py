"""The query path's answer stages on one 1 mm study, wall clock and CPU, in this process.

``process_study`` without the spool, the database or the PACS: the study's files are
read with ``read_dicom_file`` and screened (``load_files``), then ``answer`` runs with
the shipped models on an in-memory archive of 10 random cases (``load``, ``segment``,
``embed``, ``search``, ``build``, then ``outline``: built after the report since lat10,
``Answer.complete``). CPU is this thread's (``thread_time``:
the segmenter's ONNX threads are not in it). With a fixed time and UID seed the result
objects are the same at every run, so ``--save`` at one revision and ``--compare`` at
another shows whether a change altered them (wall-clock creation times and highdicom's
random DimensionOrganizationUID aside). The peer is the same at an earlier revision: run
this file with that revision's tree first on the path, alternating:

    git archive c823c50 | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before .venv/bin/python bench/answer_stages.py --save /tmp/objs-before
    PYTHONPATH=$PWD .venv/bin/python bench/answer_stages.py --compare /tmp/objs-before

The study is the first of ``bench/e2e_latency.py``'s query corpus (``/tmp/bench-e2e``,
made by that benchmark).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from dicom_conversion import read_dicom_file
from indexer.pipeline import load_models
from indexer.store import CaseEntry, MemoryStore
from plugin.processing.answer import answer
from plugin.processing.load import load

STUDY = Path("/tmp/bench-e2e/dicom-3/SYN-777-00000")
WHEN = dt.datetime(2026, 11, 28, 8, 0, 0)
#: Values that differ at every run: creation times, highdicom's DimensionOrganizationUID.
VOLATILE = ("(0008,0013)", "(0018,1014)", "(0018,A002)", "(0020,9164)")


class FolderSource:
    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def instances(self, study_instance_uid: str) -> list[Any]:
        read = (read_dicom_file(f) for f in self.files)
        return [ds for ds in read if ds.Modality == "MR"]


class Laps:
    """Wall-clock and thread CPU seconds of each stage, one after the other."""

    def __init__(self) -> None:
        self.seconds: dict[str, tuple[float, float]] = {}
        self._clock = (time.perf_counter(), time.thread_time())

    def lap(self, stage: str) -> None:
        now = (time.perf_counter(), time.thread_time())
        self.seconds[stage] = (now[0] - self._clock[0], now[1] - self._clock[1])
        self._clock = now


def flat(ds: pydicom.Dataset, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for element in ds:
        key = f"{prefix}{element.tag}"
        if element.VR == "SQ":
            for i, item in enumerate(element.value):
                out.update(flat(item, f"{key}[{i}]."))
        else:
            out[key] = element.value
    return out


def compare(saved: Path, objects: list[pydicom.Dataset]) -> None:
    files = sorted(saved.iterdir())
    assert len(files) == len(objects), (len(files), len(objects))
    for path, ds in zip(files, objects, strict=True):
        before = flat(pydicom.dcmread(path))
        after = flat(pydicom.dcmread(pydicom.filebase.DicomBytesIO(_encoded(ds))))
        keys = sorted(set(before) | set(after))
        differ = [k for k in keys if before.get(k) != after.get(k) and not k.endswith(VOLATILE)]
        print(f"{path.name}: {len(before)} elements, {len(differ)} differ {differ[:5]}")


def _encoded(ds: pydicom.Dataset) -> bytes:
    buffer = pydicom.filebase.DicomBytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save", type=Path, help="write the result objects here")
    parser.add_argument("--compare", type=Path, help="compare them with those saved here")
    args = parser.parse_args()
    files = sorted(STUDY.rglob("*.dcm"))
    models = load_models(None)
    store = MemoryStore()
    store.register_model(models.model_version, models.embedder.dim)
    rng = np.random.default_rng(0)
    for i in range(10):
        entry = CaseEntry(
            f"case-{i}",
            ("glioma", "metastasis", "meningioma")[i % 3],
            patient_id=f"P{i}",
            tumour={"volume_ml": 3.0 + i},
        )
        store.upsert(entry, models.model_version, rng.normal(size=models.embedder.dim))
    uid = str(read_dicom_file(files[0]).StudyInstanceUID)
    runs: list[dict[str, tuple[float, float]]] = []
    for _ in range(args.runs):
        laps = Laps()
        loaded = load(uid, FolderSource(files))
        laps.lap("load_files")
        answered = answer(loaded, store, models, uid_seed="seed", now=WHEN, lap=laps.lap)
        objects = answered.complete()
        laps.lap("outline")
        runs.append(laps.seconds)
        print(" ".join(f"{k} {w:.3f}/{c:.3f}" for k, (w, c) in laps.seconds.items()), flush=True)
    print("medians (wall / cpu s):")
    for stage in runs[0]:
        wall = statistics.median(r[stage][0] for r in runs)
        cpu = statistics.median(r[stage][1] for r in runs)
        print(f"  {stage:>10}: {wall:.3f} / {cpu:.3f}")
    wall = statistics.median(sum(w for w, _ in r.values()) for r in runs)
    cpu = statistics.median(sum(c for _, c in r.values()) for r in runs)
    print(f"  {'sum':>10}: {wall:.3f} / {cpu:.3f}")
    print(f"load average: {os.getloadavg()}")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for i, ds in enumerate(objects):
            ds.save_as(
                args.save / f"{i}-{ds.Modality}-{ds.SeriesNumber}.dcm", enforce_file_format=True
            )
    if args.compare:
        compare(args.compare, objects)


if __name__ == "__main__":
    main()
