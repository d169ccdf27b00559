"""Writing a generator-C corpus in the BraTS layout of spec section 5.

Files are byte-identical for the same ``(seed, index, resolution_mm, hard_rate)`` whatever
the number of workers: every case draws from its own ``SeedSequence`` streams and the
NIfTI files are gzipped with ``mtime=0``.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as _nib
import numpy as np
from numpy.typing import NDArray

from models.synth_c.case import synthesise_case
from models.synth_c.errors import SynthCError
from models.synth_c.truth import case_truth

nib: Any = _nib  # nibabel is only partly typed

__all__ = ["CorpusSummary", "write_case", "write_corpus"]

logger = logging.getLogger(__name__)

GENERATOR = "c"


@dataclass(frozen=True)
class CorpusSummary:
    """What :func:`write_corpus` wrote and how long it took."""

    out_dir: Path
    case_ids: list[str]
    seconds: float


def _write_nifti(array: NDArray[Any], affine: NDArray[np.float64], path: Path) -> None:
    """NIfTI-1, gzipped without a timestamp (deterministic bytes)."""
    image = nib.Nifti1Image(array, affine)
    image.header.set_xyzt_units("mm", "sec")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    path.write_bytes(gzip.compress(image.to_bytes(), compresslevel=6, mtime=0))


def write_case(
    out_dir: Path, seed: int, index: int, resolution_mm: float = 2.0, hard_rate: float = 0.15
) -> dict[str, Any]:
    """Write case ``index`` of corpus ``seed`` under ``out_dir``; return its truth entry."""
    case = synthesise_case(seed, index, resolution_mm, hard_rate)
    case_id = case.plan.case_id
    folder = Path(out_dir) / case_id
    folder.mkdir(parents=True, exist_ok=True)
    affine = case.grid.affine
    for name, image in case.images.items():
        _write_nifti(image, affine, folder / f"{case_id}-{name}.nii.gz")
    _write_nifti(case.seg, affine, folder / f"{case_id}-seg.nii.gz")
    return case_truth(case)


def _write_case_args(args: tuple[Path, int, int, float, float]) -> dict[str, Any]:
    return write_case(*args)


def _check(cases: int, seed: int, resolution_mm: float, hard_rate: float, workers: int) -> None:
    if cases < 1:
        raise SynthCError(f"Argument 'cases' must be at least 1, got {cases}")
    if seed < 0:
        raise SynthCError(f"Argument 'seed' must be non-negative, got {seed}")
    if not 0.5 <= resolution_mm <= 6.0:
        raise SynthCError(f"Argument 'resolution_mm' must be within 0.5..6 mm, got {resolution_mm}")
    if not 0.0 <= hard_rate <= 1.0:
        raise SynthCError(f"Argument 'hard_rate' must be within 0..1, got {hard_rate}")
    if workers < 1:
        raise SynthCError(f"Argument 'workers' must be at least 1, got {workers}")


def write_corpus(
    out_dir: Path,
    cases: int,
    seed: int,
    resolution_mm: float = 2.0,
    hard_rate: float = 0.15,
    workers: int = 1,
) -> CorpusSummary:
    """Write ``cases`` cases, ``cases.csv`` and ``truth.json`` under ``out_dir``.

    Raises:
        SynthCError: an argument is out of range.
    """
    _check(cases, seed, resolution_mm, hard_rate, workers)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    jobs = [
        (out_dir, seed, index, float(resolution_mm), float(hard_rate)) for index in range(cases)
    ]
    if workers == 1:
        truths = [_write_case_args(job) for job in jobs]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            truths = list(pool.map(_write_case_args, jobs, chunksize=1))
    with (out_dir / "cases.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["case_id", "diagnosis", "patient_id", "age", "sex"])
        for truth in truths:
            writer.writerow(
                [
                    truth["case_id"],
                    truth["diagnosis"],
                    truth["patient_id"],
                    truth["age"],
                    truth["sex"],
                ]
            )
    document = {
        "generator": GENERATOR,
        "seed": seed,
        "resolution_mm": float(resolution_mm),
        "hard_rate": float(hard_rate),
        "cases": truths,
    }
    (out_dir / "truth.json").write_text(json.dumps(document, indent=1) + "\n")
    seconds = time.perf_counter() - started
    logger.info(
        "generator c corpus written",
        extra={"cases": cases, "out_dir": str(out_dir), "seconds": seconds},
    )
    return CorpusSummary(out_dir, [str(t["case_id"]) for t in truths], seconds)
