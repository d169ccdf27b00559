"""Who each case is: diagnosis, patient, follow-up link and hard-case kind.

Everything here is a pure function of ``(seed, index)`` (and the allowed tumour
types), so ``--cases 100`` and ``--cases 200`` share their first 100 cases and
any case can be regenerated alone. Random streams are keyed by purpose:

* ``[seed, index, 0]``: whether the case is a later time point, and of which case;
* ``[seed, patient_index, 1]``: the patient and the tumour (shared by time points);
* ``[seed, index, 2]``: the acquisition (contrast, pose, noise), new at every visit;
* ``[seed, index, 3]``: tumour growth between time points;
* ``[seed, patient_index, 4]``: the tumour's geometry;
* ``[seed, index, 5]``: the vendor style of the DICOM export;
* ``[seed, patient_index, 6]``: whether the patient's images are mirrored left-right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.synth.errors import SynthesisError

__all__ = [
    "DIAGNOSES",
    "FOLLOW_UP_RATE",
    "HARD_CASE_RATE",
    "HARD_KINDS",
    "CasePlan",
    "case_id",
    "patient_id",
    "plan_case",
    "stream",
]

DIAGNOSES = ("glioma", "meningioma", "metastasis")
HARD_CASE_RATE = 0.15
FOLLOW_UP_RATE = 0.10
HARD_KINDS: dict[str, tuple[str, ...]] = {
    "glioma": ("non_enhancing_glioma", "small_glioma"),
    "meningioma": ("meningioma_with_oedema",),
    "metastasis": ("solitary_large_metastasis",),
}
_FIRST_FOLLOW_UP_INDEX = 3
_FOLLOW_UP_WINDOW = 200

# Purposes of the random streams (third entropy word).
VISIT, PATIENT, ACQUISITION, GROWTH, TUMOUR, DICOM_STYLE, MIRROR = 0, 1, 2, 3, 4, 5, 6


def stream(seed: int, index: int, purpose: int) -> np.random.Generator:
    """The random generator of one purpose for case ``index`` of corpus ``seed``."""
    if seed < 0 or index < 0:
        raise SynthesisError(f"seed and index must be >= 0, got seed={seed} index={index}")
    return np.random.default_rng([seed, index, purpose])


def case_id(seed: int, index: int) -> str:
    """``SYN-<seed>-<index:05d>``."""
    return f"SYN-{seed}-{index:05d}"


def patient_id(seed: int, patient_index: int) -> str:
    """``SP-<seed>-<n:05d>``, ``n`` the index of the patient's first case."""
    return f"SP-{seed}-{patient_index:05d}"


@dataclass(frozen=True)
class CasePlan:
    """The identity of one case.

    Attributes:
        seed, index: The corpus seed and the case index.
        case_id, patient_id: Identifiers (a later time point keeps the patient's id).
        patient_index: Index of the patient's first case (whose tumour this is).
        timepoint: 1 for a first visit, 2 and up for later ones.
        diagnosis: "glioma", "meningioma" or "metastasis".
        hard: The deliberately hard variant, or None.
        age, sex: Patient age in years at this visit and sex ("F"/"M").
    """

    seed: int
    index: int
    case_id: str
    patient_id: str
    patient_index: int
    timepoint: int
    diagnosis: str
    hard: str | None
    age: int
    sex: str

    @property
    def follow_up_of(self) -> str | None:
        """Case id of the patient's first visit, for a later time point."""
        return None if self.timepoint == 1 else case_id(self.seed, self.patient_index)


def _allowed(types: Sequence[str] | None) -> tuple[str, ...]:
    if types is None:
        return DIAGNOSES
    chosen = tuple(dict.fromkeys(t.strip().lower() for t in types if t.strip()))
    unknown = [t for t in chosen if t not in DIAGNOSES]
    if unknown or not chosen:
        raise SynthesisError(
            f"unknown tumour type(s) {unknown or list(types)}; choose from {', '.join(DIAGNOSES)}"
        )
    return tuple(t for t in DIAGNOSES if t in chosen)


def _earlier_visit(seed: int, index: int) -> int | None:
    """The earlier case this one is a later time point of, or None."""
    if index < _FIRST_FOLLOW_UP_INDEX:
        return None
    rng = stream(seed, index, VISIT)
    if rng.random() >= FOLLOW_UP_RATE:
        return None
    return int(rng.integers(max(0, index - _FOLLOW_UP_WINDOW), index))


def _first_visit(seed: int, index: int) -> int:
    earlier = _earlier_visit(seed, index)
    while earlier is not None:
        index = earlier
        earlier = _earlier_visit(seed, index)
    return index


_AGE = {"glioma": (56.0, 14.0), "meningioma": (60.0, 12.0), "metastasis": (62.0, 11.0)}
_FEMALE = {"glioma": 0.42, "meningioma": 0.68, "metastasis": 0.52}


def plan_case(
    seed: int,
    index: int,
    types: Sequence[str] | None = None,
    hard_rate: float = HARD_CASE_RATE,
) -> CasePlan:
    """The plan of case ``index`` of corpus ``seed``; depends on nothing else.

    ``hard_rate`` is the share of patients given a deliberately hard variant; the
    random streams are drawn the same way whatever it is, so the default rate gives
    the corpora of earlier versions and a higher one (a training corpus enriched in
    the variants that get confused) changes only which patients are hard.
    """
    if not 0.0 <= hard_rate <= 1.0:
        raise SynthesisError(f"hard_rate must be within 0..1, got {hard_rate}")
    allowed = _allowed(types)
    first = _first_visit(seed, index)
    timepoint = 1
    if first != index:
        timepoint = 1 + sum(_first_visit(seed, i) == first for i in range(first + 1, index + 1))
    rng = stream(seed, first, PATIENT)
    diagnosis = allowed[int(rng.integers(0, len(allowed)))]
    hard: str | None = None
    if rng.random() < hard_rate:
        kinds = HARD_KINDS[diagnosis]
        hard = kinds[int(rng.integers(0, len(kinds)))]
    mean, sd = _AGE[diagnosis]
    age = int(np.clip(round(rng.normal(mean, sd)), 18, 90))
    sex = "F" if rng.random() < _FEMALE[diagnosis] else "M"
    if timepoint > 1:
        age += int(stream(seed, index, GROWTH).integers(0, 2))
    return CasePlan(
        seed=seed,
        index=index,
        case_id=case_id(seed, index),
        patient_id=patient_id(seed, first),
        patient_index=first,
        timepoint=timepoint,
        diagnosis=diagnosis,
        hard=hard,
        age=age,
        sex=sex,
    )
