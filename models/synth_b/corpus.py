"""Writing a corpus folder in the BraTS 2023 layout (spec section 5)."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt

from models.synth_b.case import generate_case
from models.synth_b.errors import SynthBError
from models.synth_b.template import load_template

__all__ = ["write_case", "write_corpus", "write_nifti"]

logger = logging.getLogger(__name__)


def write_nifti(path: Path, data: npt.NDArray[Any], affine: npt.NDArray[np.float64]) -> None:
    """A .nii.gz with an RAS+ mm affine (sform and qform), byte-identical for equal input."""
    image = nib.Nifti1Image(data, affine)  # type: ignore[no-untyped-call]
    image.header.set_xyzt_units("mm")  # type: ignore[no-untyped-call]
    image.set_sform(affine, code=1)  # type: ignore[no-untyped-call]
    image.set_qform(affine, code=1)  # type: ignore[no-untyped-call]
    payload = image.to_bytes()
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=4) as gz,
    ):
        gz.write(payload)


def write_case(
    out_dir: Path, seed: int, index: int, resolution_mm: float, hard_rate: float
) -> dict[str, Any]:
    """Generate case ``index`` and write its five files; returns its truth record."""
    case = generate_case(seed, index, resolution_mm=resolution_mm, hard_rate=hard_rate)
    folder = out_dir / case.plan.case_id
    folder.mkdir(parents=True, exist_ok=True)
    for sequence, image in case.images.items():
        write_nifti(folder / f"{case.plan.case_id}-{sequence}.nii.gz", image, case.affine)
    write_nifti(folder / f"{case.plan.case_id}-seg.nii.gz", case.seg, case.affine)
    return case.truth


def _job(args: tuple[Path, int, int, float, float]) -> dict[str, Any]:
    return write_case(*args)


def write_corpus(
    out_dir: Path,
    *,
    cases: int,
    seed: int,
    resolution_mm: float = 2.0,
    workers: int = 1,
    hard_rate: float = 0.15,
) -> None:
    """Write ``cases`` cases of corpus ``seed`` into ``out_dir`` with cases.csv and truth.json.

    The files of a case depend only on ``(seed, index, resolution_mm, hard_rate)``, not on
    ``workers``.
    """
    if cases < 1:
        raise SynthBError(f"Argument 'cases' must be at least 1, got {cases}")
    if seed < 0:
        raise SynthBError(f"Argument 'seed' must be >= 0, got {seed}")
    if not 0.25 <= resolution_mm <= 8.0:
        raise SynthBError(
            f"Argument 'resolution_mm' must be within [0.25, 8] mm, got {resolution_mm}"
        )
    if not 0.0 <= hard_rate <= 1.0:
        raise SynthBError(f"Argument 'hard_rate' must be within [0, 1], got {hard_rate}")
    if workers < 1:
        raise SynthBError(f"Argument 'workers' must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    jobs = [
        (out_dir, seed, index, float(resolution_mm), float(hard_rate)) for index in range(cases)
    ]
    if workers == 1:
        records = [_job(job) for job in jobs]
    else:
        load_template(float(resolution_mm))  # forked workers inherit it
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            records = list(pool.map(_job, jobs))
    with (out_dir / "cases.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["case_id", "diagnosis", "patient_id", "age", "sex"])
        for record in records:
            writer.writerow(
                [
                    record["case_id"],
                    record["diagnosis"],
                    record["patient_id"],
                    record["age"],
                    record["sex"],
                ]
            )
    truth = {
        "generator": "b",
        "seed": seed,
        "resolution_mm": float(resolution_mm),
        "cases": records,
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    logger.info(
        "generator B wrote %d cases",
        cases,
        extra={"out_dir": str(out_dir), "seconds": round(time.perf_counter() - started, 1)},
    )
