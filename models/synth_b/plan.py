"""Who each case is: diagnosis, hard variant, follow-up, patient, age and sex.

Everything is a pure function of ``(seed, index)`` so that any worker can make any case.
A case is a follow-up (about 10 %) of an earlier case of its block of ten; its patient
is that case's.
Diagnoses are balanced in blocks of three patients, in a seed-dependent order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DIAGNOSES",
    "FOLLOW_UP_RATE",
    "HARD_KINDS",
    "CasePlan",
    "case_id",
    "patient_rng",
    "plan_case",
]

DIAGNOSES = ("glioma", "meningioma", "metastasis")
HARD_KINDS: dict[str, tuple[tuple[str, float], ...]] = {
    "glioma": (("non_enhancing_glioma", 0.55), ("small_glioma", 0.45)),
    "meningioma": (("meningioma_with_oedema", 0.7), ("cystic_meningioma", 0.3)),
    "metastasis": (("solitary_large_metastasis", 1.0),),
}
FOLLOW_UP_RATE = 0.095
FOLLOW_UP_BLOCK = 10

_STREAM_FOLLOW_UP = 7
_STREAM_DIAGNOSIS = 3
_STREAM_PATIENT = 11


@dataclass(frozen=True)
class CasePlan:
    """The identity of one case, before any image is made."""

    seed: int
    index: int
    case_id: str
    patient_index: int
    patient_id: str
    diagnosis: str
    hard: str | None
    timepoint: int
    follow_up_of: str | None
    age: int
    sex: str


def case_id(seed: int, index: int) -> str:
    return f"SYB-{seed}-{index:05d}"


def patient_rng(seed: int, patient_index: int, part: int = 0) -> np.random.Generator:
    """A stream of what belongs to the patient: 0 identity, 1 brain, 2 lesions."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, patient_index, _STREAM_PATIENT, part])
    )


def _baseline_index(seed: int, index: int) -> int:
    """The case whose patient ``index`` is (itself, or an earlier case it follows up).

    Cases come in blocks of ten; in most blocks one case is the follow-up of another,
    earlier case of the same block. So no case has two follow-ups and no follow-up is
    followed up, and the answer needs nothing but ``(seed, index)``.
    """
    block, slot = divmod(index, FOLLOW_UP_BLOCK)
    rng = np.random.default_rng(np.random.SeedSequence([seed, block, _STREAM_FOLLOW_UP]))
    if rng.random() >= FOLLOW_UP_RATE * FOLLOW_UP_BLOCK:
        return index
    first, second = sorted(int(v) for v in rng.choice(FOLLOW_UP_BLOCK, size=2, replace=False))
    return block * FOLLOW_UP_BLOCK + first if slot == second else index


def _diagnosis(seed: int, patient_index: int) -> str:
    block, slot = divmod(patient_index, len(DIAGNOSES))
    rng = np.random.default_rng(np.random.SeedSequence([seed, block, _STREAM_DIAGNOSIS]))
    order = rng.permutation(len(DIAGNOSES))
    return DIAGNOSES[int(order[slot])]


def plan_case(seed: int, index: int, hard_rate: float = 0.15) -> CasePlan:
    """The plan of case ``index`` of the corpus ``seed``."""
    if index < 0:
        raise ValueError(f"Argument 'index' must be >= 0, got {index}")
    if not 0.0 <= hard_rate <= 1.0:
        raise ValueError(f"Argument 'hard_rate' must be within [0, 1], got {hard_rate}")
    patient = _baseline_index(seed, index)
    diagnosis = _diagnosis(seed, patient)
    rng = patient_rng(seed, patient)
    hard: str | None = None
    if rng.random() < hard_rate:
        kinds = HARD_KINDS[diagnosis]
        weights = np.array([w for _, w in kinds])
        hard = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))][0]
    if hard == "non_enhancing_glioma":
        age = rng.normal(40.0, 11.0)
    elif diagnosis == "metastasis":
        age = rng.normal(62.0, 11.0)
    else:
        age = rng.normal(58.0, 13.0)
    female = {"glioma": 0.42, "meningioma": 0.68, "metastasis": 0.5}[diagnosis]
    sex = "F" if rng.random() < female else "M"
    follow_up = patient != index
    return CasePlan(
        seed=seed,
        index=index,
        case_id=case_id(seed, index),
        patient_index=patient,
        patient_id=f"PB-{seed}-{patient:05d}",
        diagnosis=diagnosis,
        hard=hard,
        timepoint=2 if follow_up else 1,
        follow_up_of=case_id(seed, patient) if follow_up else None,
        age=int(np.clip(round(age), 18, 90)) + (1 if follow_up else 0),
        sex=sex,
    )
