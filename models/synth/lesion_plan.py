"""Where the tumours are and what they look like, in world millimetres.

The plan is independent of the grid resolution: centres and radii are in mm and
shape noise lives in each lesion's own normalised frame, so a later time point
(the same plan, grown) keeps the tumour's shape.

Type-specific choices follow TumorSim (Prastawa et al. 2009) and the radiology:

* glioma: deep white matter, irregular and elongated; a thick irregular
  enhancing rim around necrosis (or no enhancement at all: low grade); oedema
  spreading along white matter; now and then a satellite focus;
* meningioma: extra-axial, based on the brain surface and growing outwards;
  round, smooth, homogeneously enhancing, with a dural tail; oedema in a minority;
* metastasis: ``1 + Poisson`` small round lesions at the grey-white junction,
  ring-enhancing above ~6 mm radius, with oedema out of proportion to their size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from models.synth.anatomy import Template
from models.synth.plan import CasePlan

__all__ = ["Lesion", "grow", "plan_lesions"]


@dataclass(frozen=True)
class Lesion:
    """One tumour focus.

    Attributes:
        kind: "glioma", "meningioma" or "metastasis".
        centre_mm: Centre in template (MNI) millimetres.
        radii_mm: Semi-axes of the ellipsoid, mm.
        rotation: 3x3 rotation of the ellipsoid axes.
        necrosis: Radius of the necrotic/cystic core relative to the lesion (0: none).
        enhancing: Whether the solid part enhances (label 3) or not (label 1).
        shape_noise: Amplitude of the boundary irregularity (relative radius).
        rim_noise: Irregularity of the necrotic core (thick, nodular rims).
        oedema_mm: Oedema margin beyond the lesion boundary, mm (0: none).
        mass_effect: Peak displacement of the surrounding brain, relative to radius.
        push_from_mm: Point the brain is pushed away from (the centre, or the dura
            above an extra-axial tumour).
        dural_tail_mm: Length scale of the enhancing dural tail (meningioma), 0 otherwise.
        noise_seed: Seed of the lesion's shape-noise lattice.
    """

    kind: str
    centre_mm: tuple[float, float, float]
    radii_mm: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]
    necrosis: float
    enhancing: bool
    shape_noise: float
    rim_noise: float
    oedema_mm: float
    mass_effect: float
    push_from_mm: tuple[float, float, float]
    dural_tail_mm: float
    noise_seed: int

    @property
    def mean_radius_mm(self) -> float:
        """Geometric mean of the semi-axes."""
        return float(np.prod(self.radii_mm) ** (1.0 / 3.0))

    @property
    def reach_mm(self) -> float:
        """Distance from the centre beyond which the lesion changes nothing."""
        radius = max(self.radii_mm) * (1.0 + self.shape_noise)
        return radius + max(self.oedema_mm * 1.4, 3.0 * self.dural_tail_mm) + 4.0


def _rotation(rng: np.random.Generator) -> tuple[tuple[float, float, float], ...]:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    m = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    return tuple((float(a), float(b), float(c)) for a, b, c in m)


def _vec(v: NDArray[np.float64]) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def _radii(rng: np.random.Generator, mean: float, elongation: float) -> tuple[float, float, float]:
    axes = mean * np.exp(rng.normal(0.0, elongation, size=3))
    axes *= mean / float(np.prod(axes) ** (1.0 / 3.0))
    return _vec(axes)


def _pick(rng: np.random.Generator, points: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(points[int(rng.integers(0, len(points)))], dtype=np.float64)


def _glioma(rng: np.random.Generator, tpl: Template, hard: str | None) -> list[Lesion]:
    low_grade = hard == "non_enhancing_glioma"
    small = hard == "small_glioma"
    radius = rng.uniform(6.0, 11.0) if small else rng.uniform(14.0, 30.0)
    centre = _pick(rng, tpl.deep_wm_mm) + rng.normal(0.0, 2.0, 3)
    necrosis = 0.0 if low_grade or (small and rng.random() < 0.5) else rng.uniform(0.5, 0.82)
    main = Lesion(
        kind="glioma",
        centre_mm=_vec(centre),
        radii_mm=_radii(rng, radius, 0.22),
        rotation=_rotation(rng),
        necrosis=float(necrosis),
        enhancing=not low_grade,
        shape_noise=float(rng.uniform(0.18, 0.35)),
        rim_noise=float(rng.uniform(0.2, 0.45)),
        oedema_mm=float(rng.uniform(2.0, 7.0) if low_grade else rng.uniform(7.0, 20.0)),
        mass_effect=float(rng.uniform(0.15, 0.4)),
        push_from_mm=_vec(centre),
        dural_tail_mm=0.0,
        noise_seed=int(rng.integers(0, 2**31)),
    )
    lesions = [main]
    if not low_grade and not small and rng.random() < 0.12:
        # A satellite focus within the oedema: multifocal glioma.
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        satellite = centre + direction * radius * rng.uniform(1.3, 1.8)
        lesions.append(
            replace(
                main,
                centre_mm=_vec(satellite),
                push_from_mm=_vec(satellite),
                radii_mm=_radii(rng, rng.uniform(3.5, 7.0), 0.1),
                necrosis=0.0,
                oedema_mm=0.0,
                mass_effect=0.0,
                noise_seed=int(rng.integers(0, 2**31)),
            )
        )
    return lesions


def _meningioma(rng: np.random.Generator, tpl: Template, hard: str | None) -> list[Lesion]:
    # Convexity, parasagittal and sphenoid-wing sites: surfaces that do not face down.
    sites = np.flatnonzero(tpl.surface_normal[:, 2] > -0.3)
    i = int(sites[int(rng.integers(0, len(sites)))])
    base = tpl.surface_mm[i]
    normal = tpl.surface_normal[i]
    radius = rng.uniform(9.0, 24.0)
    # Mostly inside the skull-stripped outline: the tumour sits where brain was, and the
    # brain is pushed inwards from the dura.
    centre = base - normal * radius * rng.uniform(0.1, 0.5)
    push_from = base + normal * radius * 0.6
    # Peritumoral oedema: marked in the hard variant, mild in about a third of the others.
    if hard == "meningioma_with_oedema":
        oedema = float(rng.uniform(10.0, 18.0))
    else:
        oedema = float(rng.uniform(2.0, 8.0)) if rng.random() < 0.35 else 0.0
    return [
        Lesion(
            kind="meningioma",
            centre_mm=_vec(centre),
            radii_mm=_radii(rng, radius, 0.08),
            rotation=_rotation(rng),
            necrosis=float(rng.uniform(0.2, 0.4)) if rng.random() < 0.08 else 0.0,
            enhancing=True,
            shape_noise=float(rng.uniform(0.03, 0.08)),
            rim_noise=0.1,
            oedema_mm=oedema,
            mass_effect=float(rng.uniform(0.55, 0.8)),
            push_from_mm=_vec(push_from),
            dural_tail_mm=float(rng.uniform(5.0, 12.0)),
            noise_seed=int(rng.integers(0, 2**31)),
        )
    ]


def _metastases(rng: np.random.Generator, tpl: Template, hard: str | None) -> list[Lesion]:
    solitary_large = hard == "solitary_large_metastasis"
    count = 1 if solitary_large else 1 + min(int(rng.poisson(1.1)), 6)
    centres: list[NDArray[np.float64]] = []
    lesions = []
    for _ in range(count):
        radius = rng.uniform(12.0, 20.0) if solitary_large else float(np.exp(rng.normal(1.7, 0.45)))
        radius = float(np.clip(radius, 2.5, 20.0))
        for _attempt in range(20):
            centre = _pick(rng, tpl.junction_mm)
            if all(np.linalg.norm(centre - c) > 25.0 for c in centres):
                break
        centres.append(centre)
        ring = radius > 6.0
        lesions.append(
            Lesion(
                kind="metastasis",
                centre_mm=_vec(centre),
                radii_mm=_radii(rng, radius, 0.07),
                rotation=_rotation(rng),
                necrosis=float(rng.uniform(0.45, 0.75)) if ring else 0.0,
                enhancing=True,
                shape_noise=float(rng.uniform(0.04, 0.1)),
                rim_noise=float(rng.uniform(0.05, 0.15)),
                oedema_mm=float(rng.uniform(3.0, 18.0)),
                mass_effect=float(rng.uniform(0.15, 0.35)),
                push_from_mm=_vec(centre),
                dural_tail_mm=0.0,
                noise_seed=int(rng.integers(0, 2**31)),
            )
        )
    return lesions


def plan_lesions(plan: CasePlan, rng: np.random.Generator, template: Template) -> list[Lesion]:
    """The tumour foci of a patient (drawn from the patient's tumour stream)."""
    if plan.diagnosis == "glioma":
        return _glioma(rng, template, plan.hard)
    if plan.diagnosis == "meningioma":
        return _meningioma(rng, template, plan.hard)
    return _metastases(rng, template, plan.hard)


def grow(lesions: list[Lesion], rng: np.random.Generator) -> list[Lesion]:
    """The same tumour at a later visit: grown (or shrunk a little), same shape."""
    factor = float(rng.uniform(0.9, 1.3))
    return [
        replace(
            lesion,
            radii_mm=_vec(np.asarray(lesion.radii_mm) * factor),
            push_from_mm=_vec(
                np.asarray(lesion.centre_mm)
                + (np.asarray(lesion.push_from_mm) - np.asarray(lesion.centre_mm)) * factor
            ),
            oedema_mm=lesion.oedema_mm * float(rng.uniform(0.9, 1.2)),
        )
        for lesion in lesions
    ]
