"""What each diagnosis's lesions are (spec section 3), drawn from the patient's stream.

Sizes and shapes are in millimetres and radius units, not voxels, so a follow-up or
another resolution redraws the same lesions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from models.synth_b.shapes import BlobShape, sample_shape

__all__ = ["LesionSpec", "grow", "sample_lesions"]


@dataclass(frozen=True)
class LesionSpec:
    """One lesion before it is placed in a brain."""

    diagnosis: str
    site: str  # deep, callosal, junction, cerebellum, convexity, falx, skull_base
    site_draw: float  # which candidate voxel of the site (0..1)
    side_draw: float  # falx meningioma: which hemisphere it grows into (< 0.5 left)
    core_ml: float
    enhancement: str  # ring, solid or none
    necrosis_fraction: float  # of the core, ring lesions
    wall_mm: float  # minimum enhancing wall thickness, ring lesions
    oedema_ratio: float  # target oedema volume / core volume
    push: float  # share of the lesion's volume that displaces the brain
    shape: BlobShape
    cyst: bool = False
    tail_mm: float = 0.0
    cleft: bool = False
    flair_mismatch: bool = False
    plaque_mm: float = 0.0  # en plaque meningioma: the tumour is at most this thick

    @property
    def extra_axial(self) -> bool:
        return self.diagnosis == "meningioma"


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _sphere_ml(diameter_mm: float) -> float:
    return float(np.pi / 6.0 * diameter_mm**3 / 1000.0)


def _glioma_shape(rng: np.random.Generator, ripple: float) -> BlobShape:
    return sample_shape(
        rng,
        blobs=(3, 6),
        spread=0.45,
        elongation=float(rng.uniform(1.3, 2.2)),
        ripple=ripple,
        ripple_frequency=float(rng.uniform(2.5, 4.0)),
    )


def _gliomas(rng: np.random.Generator, hard: str | None) -> list[LesionSpec]:
    site = "callosal" if rng.random() < 0.08 else "deep"
    if hard == "non_enhancing_glioma":
        core, enhancement, ratio = _log_uniform(rng, 10.0, 60.0), "none", rng.uniform(0.2, 1.0)
    elif hard == "small_glioma":
        core = _log_uniform(rng, 1.2, 4.0)
        enhancement = "ring" if rng.random() < 0.5 else "solid"
        ratio = rng.uniform(1.0, 3.0)
    else:
        core = _log_uniform(rng, 8.0, 55.0)
        enhancement = "ring" if rng.random() < 0.9 else "solid"
        ratio = min(rng.uniform(1.0, 3.0), 150.0 / core - 1.0)
    lesion = LesionSpec(
        diagnosis="glioma",
        site=site,
        site_draw=float(rng.random()),
        side_draw=float(rng.random()),
        core_ml=core,
        enhancement=enhancement,
        necrosis_fraction=float(rng.uniform(0.25, 0.55)),
        wall_mm=float(rng.uniform(3.0, 6.0)),
        oedema_ratio=float(max(ratio, 0.2)),
        push=float(rng.uniform(0.5, 0.85)),
        shape=_glioma_shape(rng, float(rng.uniform(0.08, 0.18))),
        flair_mismatch=enhancement == "none" and rng.random() < 0.4,
    )
    lesions = [lesion]
    if hard is None and rng.random() < 0.07:  # multifocal
        lesions.append(
            replace(
                lesion,
                site="deep",
                site_draw=float(rng.random()),
                core_ml=_log_uniform(rng, 1.5, 6.0),
                shape=_glioma_shape(rng, 0.1),
                oedema_ratio=float(rng.uniform(0.8, 2.0)),
            )
        )
    return lesions


def _meningioma(rng: np.random.Generator, hard: str | None) -> list[LesionSpec]:
    site = str(rng.choice(["convexity", "falx", "skull_base"], p=[0.65, 0.22, 0.13]))
    volume = _log_uniform(rng, 2.0, 80.0)
    if hard == "meningioma_with_oedema":
        volume = max(volume, _log_uniform(rng, 15.0, 80.0))
        ratio = rng.uniform(1.2, 3.5)
    elif rng.random() < 0.35:
        ratio = rng.uniform(0.1, 0.6)
    else:
        ratio = 0.0
    cyst = hard == "cystic_meningioma"
    lesion = LesionSpec(
        diagnosis="meningioma",
        site=site,
        site_draw=float(rng.random()),
        side_draw=float(rng.random()),
        core_ml=volume,
        enhancement="ring" if cyst else "solid",
        necrosis_fraction=float(rng.uniform(0.04, 0.1)) if rng.random() < 0.04 else 0.0,
        wall_mm=3.0,
        oedema_ratio=float(ratio),
        push=float(rng.uniform(0.9, 1.0)),
        shape=sample_shape(
            rng,
            blobs=(1, 3),
            spread=0.2,
            elongation=float(rng.uniform(1.0, 1.3)),
            ripple=float(rng.uniform(0.02, 0.05)),
            ripple_frequency=1.5,
        ),
        cyst=cyst,
        tail_mm=float(rng.uniform(8.0, 20.0)) if rng.random() < 0.7 else 0.0,
        cleft=bool(rng.random() < 0.85),
    )
    if not cyst and site == "convexity" and rng.random() < 0.1:  # en plaque
        lesion = replace(lesion, plaque_mm=float(rng.uniform(4.0, 8.0)))
    return [lesion]


def _metastases(rng: np.random.Generator, hard: str | None) -> list[LesionSpec]:
    if hard == "solitary_large_metastasis":
        count, diameters = 1, [rng.uniform(30.0, 42.0)]
    else:
        count = 1 if rng.random() < 0.5 else min(2 + int(rng.poisson(1.3)), 8)
        diameters = [_log_uniform(rng, 8.0, 30.0)]
        diameters += [_log_uniform(rng, 5.0, 16.0) for _ in range(count - 1)]
    solid_below = rng.uniform(7.0, 11.0)
    lesions = []
    for d in diameters:
        if hard is not None:
            enhancement = "ring"
            ratio = rng.uniform(1.5, 4.0)
        else:
            enhancement = (
                "none" if rng.random() < 0.08 else ("solid" if d < solid_below else "ring")
            )
            ratio = min(rng.uniform(2.0, 8.0) * np.sqrt(15.0 / d), 20.0)
        lesions.append(
            LesionSpec(
                diagnosis="metastasis",
                site="cerebellum" if rng.random() < 0.15 else "junction",
                site_draw=float(rng.random()),
                side_draw=float(rng.random()),
                core_ml=_sphere_ml(float(d)),
                enhancement=enhancement,
                necrosis_fraction=float(rng.uniform(0.3, 0.6)),
                wall_mm=float(rng.uniform(1.5, 3.0)),
                oedema_ratio=float(ratio),
                push=float(rng.uniform(0.5, 0.8)),
                shape=sample_shape(
                    rng,
                    blobs=(1, 2),
                    spread=0.12,
                    elongation=float(rng.uniform(1.0, 1.15)),
                    ripple=0.02,
                    ripple_frequency=2.0,
                ),
            )
        )
    return lesions


def sample_lesions(rng: np.random.Generator, diagnosis: str, hard: str | None) -> list[LesionSpec]:
    """The lesions of a patient with ``diagnosis`` (and hard variant ``hard``)."""
    if diagnosis == "glioma":
        return _gliomas(rng, hard)
    if diagnosis == "meningioma":
        return _meningioma(rng, hard)
    if diagnosis == "metastasis":
        return _metastases(rng, hard)
    raise ValueError(
        f"Argument 'diagnosis' must be glioma, meningioma or metastasis, got {diagnosis!r}"
    )


def grow(lesions: list[LesionSpec], volume_factor: float) -> list[LesionSpec]:
    """The same lesions at a later time point, each volume times ``volume_factor``."""
    return [replace(lesion, core_ml=lesion.core_ml * volume_factor) for lesion in lesions]
