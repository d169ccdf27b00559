"""The public per-case entry point: :func:`generate_case` returns a :class:`SyntheticCase`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.uid import generate_uid

from dicom_conversion import MRSequence, StudyVolumes
from models.synth.contrast import DEFAULT_CONTRAST_JITTER
from models.synth.plan import HARD_CASE_RATE
from models.synth.rendering import render_case

__all__ = ["SEQUENCE_OF_SUFFIX", "SyntheticCase", "generate_case", "study_instance_uid"]

SEQUENCE_OF_SUFFIX = {
    "t1n": MRSequence.T1,
    "t1c": MRSequence.T1C,
    "t2w": MRSequence.T2,
    "t2f": MRSequence.FLAIR,
}


def study_instance_uid(case_id: str) -> str:
    """A StudyInstanceUID derived from the case id (the same case, the same UID)."""
    return str(generate_uid(entropy_srcs=["simcase synthetic study", case_id]))


@dataclass(frozen=True, eq=False)
class SyntheticCase:
    """One generated case.

    Attributes:
        case_id: ``SYN-<seed>-<index:05d>``.
        diagnosis: "glioma", "meningioma" or "metastasis".
        patient_id: ``SP-<seed>-<n:05d>``; a later time point keeps its patient's id.
        age: Age in years at this visit.
        sex: "F" or "M".
        study: The four sequences and the BraTS mask in the canonical convention
            (float32 arrays with int16-range integer values, uint8 mask, RAS affine).
        truth: Lesion facts (JSON-ready), as written to ``truth.json``.
    """

    case_id: str
    diagnosis: str
    patient_id: str
    age: int
    sex: str
    study: StudyVolumes
    truth: dict[str, Any]


def generate_case(
    seed: int,
    index: int,
    *,
    resolution_mm: float = 1.0,
    types: Sequence[str] | None = None,
    contrast_jitter: float = DEFAULT_CONTRAST_JITTER,
    hard_rate: float = HARD_CASE_RATE,
) -> SyntheticCase:
    """Generate case ``index`` of the corpus ``seed``.

    The result depends only on ``(seed, index)`` (and ``resolution_mm``,
    ``types``): the same arguments give identical arrays.

    Args:
        seed: Corpus seed (>= 0).
        index: Case index (>= 0).
        resolution_mm: Isotropic voxel size; the grid always covers the BraTS
            field of view (240 x 240 x 155 voxels at 1 mm).
        types: Allowed diagnoses (default: all three).
        contrast_jitter: Relative range of the per-case tissue intensities.
        hard_rate: Share of patients with a deliberately hard variant.

    Raises:
        SynthesisError: Bad arguments or missing template files.
    """
    rendered = render_case(
        seed,
        index,
        resolution_mm=resolution_mm,
        types=types,
        contrast_jitter=contrast_jitter,
        hard_rate=hard_rate,
    )
    plan = rendered.plan
    uid = study_instance_uid(plan.case_id)
    study = StudyVolumes(
        arrays={SEQUENCE_OF_SUFFIX[s]: a for s, a in rendered.images.items()},
        affine=rendered.affine,
        mask=rendered.mask,
        study_instance_uid=uid,
        frame_of_reference_uid=str(generate_uid(entropy_srcs=[uid, "frame-of-reference"])),
        case_id=plan.case_id,
    )
    return SyntheticCase(
        case_id=plan.case_id,
        diagnosis=plan.diagnosis,
        patient_id=plan.patient_id,
        age=plan.age,
        sex=plan.sex,
        study=study,
        truth={**rendered.truth, "study_instance_uid": uid},
    )
