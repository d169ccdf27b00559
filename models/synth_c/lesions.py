"""What each patient's lesions are: kind, place, size, enhancement pattern and shape seeds.

Planned once per patient in the head frame (independent of pose and resolution); a
follow-up reuses the plan with every volume scaled (:func:`scaled`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from models.synth_c.anatomy import HeadShape
from models.synth_c.sites import SiteMap, pick
from models.synth_c.tissue import Tissue

__all__ = ["LesionSpec", "plan_lesions", "scaled"]

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class LesionSpec:
    """One lesion, in the head frame (mm, ml)."""

    kind: str  # glioma | metastasis | meningioma
    centre: F32  # glioma, metastasis: centre; meningioma: the dural attachment point
    core_ml: float
    oedema_ml: float
    enhancement: str  # ring | solid | none
    noise_seed: int
    radius_mm: float = 0.0  # metastasis radius; meningioma lateral radius
    wall_mm: float = 0.0  # ring thickness (metastasis); meningioma depth into the brain
    necrosis_share: float = 0.0  # glioma: necrotic share of the core
    normal: F32 = field(default_factory=lambda: np.zeros(3, dtype=np.float32))
    walkers: F32 = field(default_factory=lambda: np.zeros((3, 0), dtype=np.float32))
    cyst_share: float = 0.0
    tail_mm: float = 0.0
    cleft_mm: float = 0.0
    mismatch: bool = False  # non-enhancing glioma with T2-FLAIR mismatch


def scaled(spec: LesionSpec, volume_scale: float) -> LesionSpec:
    """The same lesion grown or shrunk by ``volume_scale`` in volume (a follow-up)."""
    linear = volume_scale ** (1 / 3)
    return replace(
        spec,
        core_ml=spec.core_ml * volume_scale,
        oedema_ml=spec.oedema_ml * volume_scale,
        radius_mm=spec.radius_mm * linear,
        wall_mm=spec.wall_mm * (linear if spec.kind == "meningioma" else 1.0),
        walkers=(spec.walkers * linear).astype(np.float32),
    )


def plan_lesions(
    rng: np.random.Generator, head: HeadShape, sites: SiteMap, diagnosis: str, hard: str | None
) -> list[LesionSpec]:
    """The lesions of a new patient with ``diagnosis`` (and the ``hard`` variant, if any)."""
    if diagnosis == "glioma":
        return _gliomas(rng, head, sites, hard)
    if diagnosis == "metastasis":
        return _metastases(rng, sites, hard)
    return [_meningioma(rng, head, sites, hard)]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _gliomas(
    rng: np.random.Generator, head: HeadShape, sites: SiteMap, hard: str | None
) -> list[LesionSpec]:
    b = head.axes[1]
    white = sites.tissue == Tissue.WHITE_MATTER
    deep_white = white & (sites.depth > 14) & (sites.depth < 42)
    points = sites.points(deep_white)
    points = points[:, np.abs(points[0]) > 12]
    butterfly = hard is None and rng.random() < 0.06
    if butterfly:
        centre = np.array([0.0, rng.uniform(-0.12, 0.12) * b, head.callosum_z + 2], np.float32)
        tract = np.array([1.0, 0.0, 0.0])
    else:
        centre = pick(rng, points, [], [])
        tracts = np.array([[0, 1, 0], [0, 0.3, 1], [1, 0.5, 0.3], [0.4, 1, -0.3]], dtype=float)
        tract = tracts[rng.integers(0, len(tracts))] + rng.normal(0, 0.25, 3)
    tract /= np.linalg.norm(tract)
    if hard == "small_glioma":
        core, whole = rng.uniform(1.5, 5.0), 0.0
        enhancement = "solid" if rng.random() < 0.5 else "ring"
        whole = core * rng.uniform(2.5, 5.0)
    elif hard == "non_enhancing_glioma":
        core = rng.uniform(8, 45)
        whole, enhancement = core * rng.uniform(1.3, 2.4), "none"
    else:
        core = _log_uniform(rng, 6, 60)
        whole = float(np.clip(core * rng.uniform(2.0, 5.0), 22, 150))
        enhancement = "ring" if rng.random() < 0.9 else "solid"
    main = _glioma(rng, sites, centre, tract, core, whole - core, enhancement, hard, butterfly)
    lesions = [main]
    if hard is None and not butterfly and rng.random() < 0.08:  # multifocal
        far = np.linalg.norm(points - centre[:, None], axis=0)
        second = (
            pick(rng, points[:, (far > 30) & (far < 50)], [], [])
            if np.any((far > 30) & (far < 50))
            else pick(rng, points, [centre], [30.0])
        )
        share = rng.uniform(0.15, 0.35)
        lesions.append(
            _glioma(
                rng,
                sites,
                second,
                tract,
                core * share,
                (whole - core) * share,
                enhancement,
                hard,
                False,
            )
        )
    return lesions


def _glioma(
    rng: np.random.Generator,
    sites: SiteMap,
    centre: F32,
    tract: NDArray[np.float64],
    core_ml: float,
    oedema_ml: float,
    enhancement: str,
    hard: str | None,
    butterfly: bool,
) -> LesionSpec:
    """A glioma grown by random walkers that prefer to travel along the tract direction."""
    reach = (3 * (core_ml + oedema_ml) * 1000 / (4 * np.pi)) ** (1 / 3)
    n_walkers, step = 40, 1.6
    steps = max(8, int(1.1 * reach / step))
    pos = np.repeat(centre[:, None].astype(np.float64), n_walkers, axis=1)
    pos += rng.normal(0, 1.5, pos.shape)
    heading = rng.normal(0, 1, (3, n_walkers))
    sign = np.where(rng.random(n_walkers) < 0.5, -1.0, 1.0)
    trail = [pos.copy()]
    bed = np.array([Tissue.WHITE_MATTER, Tissue.DEEP_GREY, Tissue.BRAINSTEM])
    for _ in range(steps):
        heading = 0.55 * heading + 0.5 * sign * tract[:, None] + 0.5 * rng.normal(0, 1, pos.shape)
        heading /= np.linalg.norm(heading, axis=0, keepdims=True)
        new = pos + step * heading
        tissue = sites.tissue_near(new.astype(np.float32))
        stay = ~np.isin(tissue, bed) & (rng.random(n_walkers) < (0.6 if butterfly else 0.85))
        pos = np.where(stay, pos, new)
        sign = np.where(stay, -sign, sign)
        trail.append(pos.copy())
    walkers = (np.concatenate(trail, axis=1) - centre[:, None]).astype(np.float32)
    return LesionSpec(
        kind="glioma",
        centre=centre.astype(np.float32),
        core_ml=float(core_ml),
        oedema_ml=float(oedema_ml),
        enhancement=enhancement,
        noise_seed=int(rng.integers(0, 2**31)),
        necrosis_share=float(rng.uniform(0.25, 0.6)) if enhancement == "ring" else 0.0,
        walkers=walkers,
        mismatch=hard == "non_enhancing_glioma" and rng.random() < 0.35,
    )


def _metastases(rng: np.random.Generator, sites: SiteMap, hard: str | None) -> list[LesionSpec]:
    junction = sites.junction & (sites.depth > 3)
    white = sites.tissue == Tissue.WHITE_MATTER
    cerebellar = sites.junction & (sites.depth < -2)
    if hard == "solitary_large_metastasis":
        count, diameters = 1, [rng.uniform(28, 42)]
    else:
        count = 1 if rng.random() < 0.5 else int(min(2 + rng.poisson(1.0), 7))
        diameters = [_log_uniform(rng, 5, 28 if count == 1 else 20) for _ in range(count)]
    lesions: list[LesionSpec] = []
    for diameter in sorted(diameters, reverse=True):
        radius = diameter / 2
        pool = cerebellar if rng.random() < 0.15 and cerebellar.any() else junction
        if pool is junction:  # below the cortex, so the lesion stays intra-axial
            deep_enough = junction & (sites.depth > radius + 4)
            pool = deep_enough if deep_enough.any() else white & (sites.depth > radius + 4)
        placed = [spec.centre for spec in lesions]
        gaps = [spec.radius_mm * 1.1 + radius * 1.1 + 10 for spec in lesions]
        centre = pick(rng, sites.points(pool), placed, gaps)
        core = 4 / 3 * np.pi * radius**3 / 1000
        if rng.random() < 0.06 and hard is None:
            enhancement = "none"
        else:
            enhancement = "ring" if diameter > rng.uniform(8, 12) else "solid"
        ratio = _log_uniform(rng, 1.5, 10) * float(np.clip((12 / diameter) ** 0.5, 0.7, 2.0))
        if rng.random() < 0.08:
            ratio = rng.uniform(0.2, 0.6)
        lesions.append(
            LesionSpec(
                kind="metastasis",
                centre=centre,
                core_ml=float(core),
                oedema_ml=float(min(core * ratio, 90.0)),
                enhancement=enhancement,
                noise_seed=int(rng.integers(0, 2**31)),
                radius_mm=float(radius),
                wall_mm=float(rng.uniform(2.0, 3.5)),
            )
        )
    return lesions


def _meningioma(
    rng: np.random.Generator, head: HeadShape, sites: SiteMap, hard: str | None
) -> LesionSpec:
    a, b, c = head.axes
    surface = (sites.depth > 0) & (sites.depth < 3.5)
    p = sites.points(surface)
    x, y, z = p
    where = rng.random()
    if where < 0.55:
        keep = (z > 0.15 * c) & (np.abs(x) > 20)
    elif where < 0.8:
        keep = (np.abs(x) < 24) & (z > 0.45 * c)
    else:
        keep = (y > 0.25 * b) & (z < 0.05 * c) & (np.abs(x) > 0.3 * a)
    base = pick(rng, p[:, keep] if keep.any() else p, [], [])
    gradient = base / np.array([a * a, b * b, c * c], dtype=np.float32)
    normal = (gradient / float(np.linalg.norm(gradient))).astype(np.float32)
    centre = (base + normal * (2.0 + head.rim_mm)).astype(np.float32)
    volume = rng.uniform(15, 70) if hard == "meningioma_with_oedema" else _log_uniform(rng, 2, 80)
    if rng.random() < 0.1:  # en plaque
        depth = rng.uniform(4.0, 7.0)
        lateral = np.sqrt(volume * 1000 / (2 / 3 * np.pi * depth))
    else:
        ratio = rng.uniform(0.75, 1.1)
        lateral = (volume * 1000 / (2 / 3 * np.pi * ratio)) ** (1 / 3)
        depth = ratio * lateral
    if hard == "meningioma_with_oedema":
        oedema = min(volume * rng.uniform(1.0, 3.0), 110.0)
    else:
        oedema = volume * rng.uniform(0.15, 0.8) if rng.random() < 0.35 else 0.0
    return LesionSpec(
        kind="meningioma",
        centre=centre,
        core_ml=float(volume),
        oedema_ml=float(oedema),
        enhancement="solid",
        noise_seed=int(rng.integers(0, 2**31)),
        radius_mm=float(lateral),
        wall_mm=float(depth),
        normal=normal,
        cyst_share=float(rng.uniform(0.25, 0.45)) if hard == "cystic_meningioma" else 0.0,
        tail_mm=float(rng.uniform(8, 20)) if rng.random() < 0.8 else 0.0,
        cleft_mm=float(rng.uniform(1.2, 2.6)),
    )
