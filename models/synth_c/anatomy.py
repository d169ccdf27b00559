"""A procedural brain: no template, only shapes with random parameters.

The cerebrum is a deformed superquadric; its cortex is a ribbon of grey matter whose sulci
are the zero sheets of band-limited noise sampled on a radially compressed sphere (so they
run roughly perpendicular to the surface). An interhemispheric fissure with a falx and a
Sylvian fissure are further pial surfaces. Inside: white matter, deep grey nuclei, lateral
ventricles (:mod:`structures`), a third and a fourth ventricle; below and behind, a
cerebellum with folia and a brainstem. Everything is evaluated at arbitrary head-frame
points (mm: x to the patient's right, y anterior, z superior).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.synth_c.fields import NoiseField, noise_field
from models.synth_c.structures import VentricleRaster, paint_ventricles
from models.synth_c.tissue import Tissue

__all__ = ["HeadShape", "sample_head", "tissue_at"]

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class HeadShape:
    """One patient's brain: every random shape parameter, and its fields."""

    axes: tuple[float, float, float]  # cerebrum semi-axes a (lateral), b (AP), c (up)
    base_ratio: float  # inferior semi-axis / c
    exponent: float  # superquadric exponent (2 = ellipsoid)
    lump: float  # amplitude of the low-frequency outline deformation
    cortex_mm: float
    sulcus_width: float  # half-width of a sulcus, in fold-field units
    sulcus_depth_mm: float
    rim_mm: float  # subarachnoid CSF between brain and dura
    fissure_mm: float  # half-width of the interhemispheric fissure
    callosum_z: float
    cerebellum: tuple[float, float, float, float, float, float]  # centre y, z; axes a, b, c; folia
    brainstem_radius: float
    third_ventricle_mm: float
    shape_field: NoiseField
    fold_field: NoiseField
    ventricles: VentricleRaster


def sample_head(rng: np.random.Generator, age: int) -> HeadShape:
    """A new brain; ``age`` raises the expected atrophy (wider sulci, larger ventricles)."""
    size = rng.uniform(0.9, 1.08)
    a, b, c = rng.uniform(62, 70) * size, rng.uniform(79, 90) * size, rng.uniform(56, 63) * size
    atrophy = float(np.clip(rng.normal((age - 35) / 60, 0.2), 0.0, 1.0))
    callosum_z = rng.uniform(8, 14)
    cb = (
        -0.56 * b + rng.uniform(-3, 3),
        -0.64 * c + rng.uniform(-3, 2),
        0.73 * a * rng.uniform(0.92, 1.06),
        0.32 * b * rng.uniform(0.9, 1.1),
        0.34 * c * rng.uniform(0.9, 1.1),
        rng.uniform(4.5, 6.5),
    )
    ventricles = paint_ventricles(
        length=0.42 * b,
        roof=callosum_z - 3,
        scale=rng.uniform(0.8, 1.1) * (1 + 0.45 * atrophy),
        spread=rng.uniform(0.9, 1.2),
        asymmetry=rng.uniform(-0.12, 0.12),
    )
    return HeadShape(
        axes=(a, b, c),
        base_ratio=rng.uniform(0.68, 0.8),
        exponent=rng.uniform(2.0, 2.5),
        lump=rng.uniform(0.02, 0.045),
        cortex_mm=rng.uniform(2.3, 3.2),
        sulcus_width=rng.uniform(0.1, 0.18) + 0.18 * atrophy,
        sulcus_depth_mm=rng.uniform(9, 16),
        rim_mm=rng.uniform(1.0, 2.0) + 2.0 * atrophy,
        fissure_mm=rng.uniform(0.8, 1.4) + 1.5 * atrophy,
        callosum_z=callosum_z,
        cerebellum=cb,
        brainstem_radius=rng.uniform(9.5, 12.0),
        third_ventricle_mm=rng.uniform(1.0, 2.0) * (1 + 1.2 * atrophy),
        shape_field=noise_field(rng, 120.0, 8.0, 22.0),
        fold_field=noise_field(rng, 125.0, 2.0, rng.uniform(3.3, 4.3)),
        ventricles=ventricles,
    )


def cerebrum_radius(head: HeadShape, q: F32) -> F32:
    """Normalised superquadric radius of the cerebrum (< 1 inside), outline deformed."""
    a, b, c = head.axes
    x, y, z = q
    a_eff = a * (1.0 - 0.07 * y / b)  # wider behind than in front
    c_eff = np.where(z > 0, c, c * head.base_ratio)
    e = head.exponent
    r = (np.abs(x / a_eff) ** e + np.abs(y / b) ** e + np.abs(z / c_eff) ** e) ** (1.0 / e)
    return np.asarray(r * (1.0 + head.lump * head.shape_field.sample(q)), dtype=np.float32)


def _cerebellum_radius(head: HeadShape, q: F32) -> F32:
    cy, cz, ca, cb, cc, _ = head.cerebellum
    x, y, z = q
    r = np.sqrt((x / ca) ** 2 + ((y - cy) / cb) ** 2 + ((z - cz) / cc) ** 2)
    return np.asarray(r, dtype=np.float32)


def _brainstem_distance(head: HeadShape, q: F32) -> F32:
    """Distance (mm) beyond the brainstem surface (< 0 inside); a tilted tube with a pons."""
    _, b, c = head.axes
    x, y, z = q
    axis_y = -0.2 * b - 0.18 * (-z)  # leans backwards going down
    radius = head.brainstem_radius * (1 + 0.3 * np.exp(-(((z + 0.62 * c) / 10) ** 2)))
    d = np.sqrt(x**2 + ((y - axis_y) * 1.15) ** 2) - radius
    return np.asarray(np.where(z < -0.12 * c, d, d + (z + 0.12 * c) * 0.8), dtype=np.float32)


def tissue_at(head: HeadShape, q: F32) -> NDArray[np.uint8]:
    """The tissue code at ``(3, N)`` head-frame points (mm)."""
    a, b, c = head.axes
    x, y, z = q
    out = np.zeros(q.shape[1], dtype=np.uint8)
    r = cerebrum_radius(head, q)
    scale = (a + b + c) / 3
    depth = (1.0 - r) * scale
    rc = _cerebellum_radius(head, q)
    cb_scale = (head.cerebellum[2] + head.cerebellum[3] + head.cerebellum[4]) / 3
    depth_c = np.asarray((1.0 - rc) * cb_scale, dtype=np.float32)
    stem = _brainstem_distance(head, q)
    # Subarachnoid CSF around everything, a thin dura outside it.
    outer = np.maximum(np.maximum(depth, depth_c), -stem)
    out[outer > -(head.rim_mm + 0.8)] = Tissue.DURA
    out[outer > -head.rim_mm] = Tissue.CSF

    cerebrum = (depth > 0) & (rc > 1.12) & (stem > 1.0)
    _cerebrum(head, q[:, cerebrum], depth[cerebrum], out, cerebrum)
    cereb = (depth_c > 0) & (stem > 0.5)
    _cerebellum(head, q[:, cereb], depth_c[cereb], out, cereb)
    out[(stem <= 0) & (z > -1.2 * c)] = Tissue.BRAINSTEM
    # Tentorium: dura between the occipital lobes and the cerebellum.
    tent = (rc > 1.03) & (rc < 1.08) & (depth > 0) & (stem > 1.0)
    out[tent] = Tissue.DURA
    # Fourth ventricle: between the pons and the cerebellum.
    cy, cz = head.cerebellum[0], head.cerebellum[1]
    fourth = (x / 5.0) ** 2 + ((y - 0.55 * cy + 2) / 4.0) ** 2 + ((z - cz) / 8.0) ** 2 < 1
    out[fourth] = Tissue.CSF
    return out


def _cerebrum(
    head: HeadShape, q: F32, depth: F32, out: NDArray[np.uint8], where: NDArray[np.bool_]
) -> None:
    a, b, c = head.axes
    x, y, z = q
    cc_len = 0.42 * b
    callosum_top = head.callosum_z + 6 * (1 - np.clip(y / cc_len, -1, 1) ** 2)
    above = (z > callosum_top) | (np.abs(y) > cc_len)
    pial = np.where(above, np.minimum(depth, np.abs(x) - head.fissure_mm), depth)
    sylvian_z = -0.12 * c + 0.55 * y + 0.25 * (np.abs(x) - 0.5 * a)
    sylvian = (np.abs(x) > 0.5 * a) & (y > -0.35 * b) & (y < 0.3 * b) & (depth < 26)
    pial = np.where(sylvian, np.minimum(pial, np.abs(z - sylvian_z) - 0.6), pial)
    # Fold field on a radially compressed sphere: sulci become sheets normal to the surface.
    norm = np.maximum(np.sqrt(x**2 + y**2 + z**2), 1e-3)
    fold_q = q / norm * (100.0 + 0.25 * (norm - 70.0))
    ax = np.abs(x)
    medial = np.where(ax < 20.0, 0.3 * ax, ax - 14.0)  # medial sulci run across the falx
    fold_q[0] = np.where(above, np.sign(x) * medial, fold_q[0])
    fold = np.abs(head.fold_field.sample(fold_q.astype(np.float32)))
    w, g = head.sulcus_width, 0.75
    deep = pial - head.sulcus_depth_mm
    tissue = np.full(q.shape[1], Tissue.WHITE_MATTER, dtype=np.uint8)
    grey = (pial < head.cortex_mm) | ((deep < head.cortex_mm) & (fold < w + g))
    tissue[grey] = Tissue.GREY_MATTER
    tissue[((deep < 0) & (fold < w)) | (pial < 0)] = Tissue.CSF
    tissue[above & (np.abs(x) < 0.45)] = Tissue.DURA  # the falx
    # Deep grey nuclei: thalamus, lentiform and caudate, both sides.
    for cx, cy, cz, rx, ry, rz in (
        (11, -0.14 * b, head.callosum_z - 14, 8, 13, 9),
        (23, 0.05 * b, head.callosum_z - 16, 6, 15, 10),
        (13, 0.2 * b, head.callosum_z - 5, 5, 10, 7),
    ):
        tissue[((ax - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 < 1] = (
            Tissue.DEEP_GREY
        )
    vent, chor = head.ventricles.sample(q)
    tissue[vent > 0.5] = Tissue.CSF
    tissue[chor > 0.5] = Tissue.CHOROID
    third = (
        (ax < head.third_ventricle_mm)
        & (np.abs(y + 0.08 * b) < 0.13 * b)
        & (np.abs(z - head.callosum_z + 16) < 9)
    )
    tissue[third] = Tissue.CSF
    out[where] = tissue


def _cerebellum(
    head: HeadShape, q: F32, depth: F32, out: NDArray[np.uint8], where: NDArray[np.bool_]
) -> None:
    cy, cz, _, _, _, folia_mm = head.cerebellum
    x, y, z = q
    wobble = 2.0 * head.fold_field.sample(q * 0.6)
    phase = np.sin(2 * np.pi * (z - cz + 0.25 * (y - cy) + wobble) / folia_mm)
    tissue = np.full(q.shape[1], Tissue.WHITE_MATTER, dtype=np.uint8)
    tissue[(depth < 5.5) | ((depth < 13) & (np.abs(phase) < 0.55))] = Tissue.GREY_MATTER
    tissue[(depth < 11) & (np.abs(phase) < 0.12)] = Tissue.CSF
    tissue[(np.abs(x) < 1.2) & (y < cy - 6) & (depth < 6)] = Tissue.CSF  # vermian notch
    out[where] = tissue
