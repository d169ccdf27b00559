"""Who each case is: diagnosis, patient, follow-up, hard variant, age and sex.

Every decision for case ``index`` is drawn from numpy ``SeedSequence`` streams keyed by
``(seed, index)``, so a case never depends on how many cases or workers a corpus has.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "DIAGNOSES",
    "HARD_KINDS",
    "CasePlan",
    "case_id",
    "patient_id",
    "plan_case",
    "stream",
]

DIAGNOSES = ("glioma", "meningioma", "metastasis")

#: The hard variants of docs/synthetic-spec.md section 3, by diagnosis.
HARD_KINDS: dict[str, tuple[str, ...]] = {
    "glioma": ("non_enhancing_glioma", "small_glioma"),
    "meningioma": ("meningioma_with_oedema", "cystic_meningioma"),
    "metastasis": ("solitary_large_metastasis",),
}

FOLLOW_UP_RATE = 0.115  # a few draws find no earlier case of the slot's diagnosis

# Stream keys: one independent random stream per purpose.
PLAN, PATIENT, ACQUISITION, GROWTH, BLOCK = 11, 23, 37, 41, 53


def stream(seed: int, index: int, purpose: int) -> np.random.Generator:
    """The random stream of one purpose for one case (or patient: its first index)."""
    return np.random.default_rng(np.random.SeedSequence([seed, index, purpose]))


def case_id(seed: int, index: int) -> str:
    """``SYC-<seed>-<index:05d>``."""
    return f"SYC-{seed}-{index:05d}"


def patient_id(seed: int, base_index: int) -> str:
    """``PC-<seed>-<n:05d>``, numbered by the patient's first case."""
    return f"PC-{seed}-{base_index:05d}"


@dataclass(frozen=True)
class CasePlan:
    """One case of the corpus, before any image exists."""

    seed: int
    index: int
    base_index: int
    diagnosis: str
    hard: str | None
    timepoint: int
    age: int
    sex: str
    volume_scale: float

    @property
    def case_id(self) -> str:
        return case_id(self.seed, self.index)

    @property
    def patient_id(self) -> str:
        return patient_id(self.seed, self.base_index)

    @property
    def follow_up_of(self) -> str | None:
        return None if self.timepoint == 1 else case_id(self.seed, self.base_index)


@lru_cache(maxsize=4096)
def _balanced_diagnosis(seed: int, index: int) -> str:
    """Each block of three consecutive indices holds the three diagnoses once."""
    order = stream(seed, index // 3, BLOCK).permutation(3)
    return DIAGNOSES[int(order[index % 3])]


@lru_cache(maxsize=4096)
def _follow_up_target(seed: int, index: int) -> int | None:
    """The earlier first-visit index this case follows up, or None for a new patient.

    The earlier case has the diagnosis this index's slot asks for, so follow-ups keep the
    diagnoses balanced.
    """
    if index == 0:
        return None
    rng = stream(seed, index, PLAN)
    if rng.random() >= FOLLOW_UP_RATE:
        return None
    wanted = _balanced_diagnosis(seed, index)
    for _ in range(8):
        target = int(rng.integers(0, index))
        if _balanced_diagnosis(seed, target) == wanted and _follow_up_target(seed, target) is None:
            return target
    return None


def plan_case(seed: int, index: int, hard_rate: float) -> CasePlan:
    """The plan of case ``index`` (a new patient, or a follow-up of an earlier one)."""
    target = _follow_up_target(seed, index)
    base = index if target is None else target
    diagnosis = _balanced_diagnosis(seed, base)
    rng = stream(seed, base, PLAN + 1)
    hard: str | None = None
    if rng.random() < hard_rate:
        kinds = HARD_KINDS[diagnosis]
        hard = kinds[int(rng.integers(0, len(kinds)))]
    female_share = {"glioma": 0.42, "meningioma": 0.68, "metastasis": 0.52}[diagnosis]
    sex = "F" if rng.random() < female_share else "M"
    age = int(
        np.clip(
            rng.normal({"glioma": 58, "meningioma": 60, "metastasis": 63}[diagnosis], 12), 22, 88
        )
    )
    timepoint, scale = 1, 1.0
    if target is not None:
        earlier = sum(1 for j in range(target + 1, index) if _follow_up_target(seed, j) == target)
        timepoint = 2 + earlier
        growth = stream(seed, index, GROWTH)
        scale = float(growth.uniform(0.72, 1.3))
        age += int(growth.integers(0, 2))
    return CasePlan(seed, index, base, diagnosis, hard, timepoint, age, sex, scale)
