"""Training data drawn straight from a generator, in worker processes, without files.

Generating a case takes about 2 s on one core at 2 mm and reading it back from NIfTI
almost as long; a training run that owns many cores (16 beside a GPU) makes its cases in
parallel and keeps only what training needs: the embedder's crops, label maps and
context planes, and the segmenter's volumes on its grid.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dicom_conversion import MRSequence, StudyVolumes
from models.training.crops import CaseCrops, case_training_crops
from models.training.segmenter_training import volume_on_grid

__all__ = ["SyntheticCaseData", "synthetic_cases"]


@dataclass
class SyntheticCaseData:
    """What training keeps of one generated case."""

    case_id: str
    diagnosis: str
    patient_id: str
    crops: CaseCrops | None
    volume: tuple[np.ndarray, np.ndarray, np.ndarray] | None


_SEGMENTER: object | None = None


def _init(segmenter_dir: str | None, use_segmenter: bool) -> None:
    global _SEGMENTER
    import torch

    torch.set_num_threads(1)
    if use_segmenter:
        from models.segmenter import OnnxSegmenter

        _SEGMENTER = OnnxSegmenter.load(
            None if segmenter_dir is None else Path(segmenter_dir), threads=1
        )


_SEQUENCE_OF_SUFFIX = {sequence.brats_suffix: sequence for sequence in MRSequence.ordered()}


def _generated(
    generator: str, seed: int, index: int, resolution_mm: float, hard_rate: float
) -> tuple[StudyVolumes, str, str, str]:
    """A generated case as ``(study with mask, case id, diagnosis, patient id)``."""
    if generator == "b":
        from models.synth_b import generate_case as generate_b

        made = generate_b(seed, index, resolution_mm=resolution_mm, hard_rate=hard_rate)
        study = StudyVolumes(
            arrays={
                _SEQUENCE_OF_SUFFIX[k]: np.asarray(v, dtype=np.float32)
                for k, v in made.images.items()
            },
            affine=made.affine,
            mask=made.seg,
        )
        truth = made.truth
        return study, str(truth["case_id"]), str(truth["diagnosis"]), str(truth["patient_id"])
    from models.synth import generate_case

    case = generate_case(seed, index, resolution_mm=resolution_mm, hard_rate=hard_rate)
    return case.study, case.case_id, case.diagnosis, case.patient_id


def _make(job: tuple[str, int, int, float, float, bool, bool]) -> SyntheticCaseData:
    generator, seed, index, resolution_mm, hard_rate, crops, volume = job
    study, case_id, diagnosis, patient_id = _generated(
        generator, seed, index, resolution_mm, hard_rate
    )
    assert study.mask is not None
    query_mask = None
    if crops and _SEGMENTER is not None:
        query_mask = _SEGMENTER.segment(study)  # type: ignore[attr-defined]
    return SyntheticCaseData(
        case_id=case_id,
        diagnosis=diagnosis,
        patient_id=patient_id,
        crops=case_training_crops(study, study.mask, query_mask=query_mask) if crops else None,
        volume=volume_on_grid(study, study.mask) if volume else None,
    )


def synthetic_cases(
    seed: int,
    count: int,
    *,
    generator: str = "a",
    resolution_mm: float = 2.0,
    hard_rate: float = 0.15,
    workers: int = 1,
    crops: bool = True,
    volumes: bool = True,
    segmenter_dir: Path | None = None,
    use_segmenter: bool = True,
) -> Generator[SyntheticCaseData, None, None]:
    """Cases ``0..count-1`` of corpus ``seed`` of generator ``"a"`` or ``"b"``, in order.

    With ``use_segmenter`` the crops carry the context planes of the segmenter's mask
    (``segmenter_dir``; None: the shipped one) as the query side.
    """
    jobs = [(generator, seed, i, resolution_mm, hard_rate, crops, volumes) for i in range(count)]
    args = (None if segmenter_dir is None else str(segmenter_dir), use_segmenter and crops)
    if workers <= 1:
        _init(*args)
        yield from map(_make, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init, initargs=args) as pool:
        yield from pool.imap(_make, jobs, chunksize=2)
