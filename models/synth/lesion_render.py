"""Drawing planned lesions on the template grid: mass effect, tissue fractions, labels.

Each lesion is drawn inside its own box. Shapes are noise-perturbed ellipsoids:
the noise lattice lives in the lesion's normalised frame, so a grown lesion keeps
its shape and the shape does not depend on the grid resolution. Edges are soft
(partial volume): fractions go from 1 to 0 over about one voxel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from models.synth.anatomy import Template
from models.synth.lesion_plan import Lesion

__all__ = [
    "LABEL_ENHANCING",
    "LABEL_NECROTIC",
    "LABEL_OEDEMA",
    "Anatomy",
    "LesionPaint",
    "render_lesions",
]

LABEL_NECROTIC = 1
LABEL_OEDEMA = 2
LABEL_ENHANCING = 3

_LATTICE = 25
_LATTICE_SPAN = 3.0  # normalised units either side of the centre
F32 = NDArray[np.float32]


@dataclass
class Anatomy:
    """Tissue fractions and texture after mass effect (copies of the template's)."""

    csf: F32
    gm: F32
    wm: F32
    texture: F32


@dataclass
class LesionPaint:
    """Fractions of the lesion's classes inside its box.

    ``fractions`` keys: "necrosis", "enhancing", "non_enhancing", "meningioma",
    "oedema", "dura"; ``shade`` is a smooth field in about [-1, 1] for texture.
    """

    kind: str
    box: tuple[slice, slice, slice]
    fractions: dict[str, F32] = field(default_factory=dict)
    shade: F32 | None = None


def _box(
    template: Template, centre_mm: NDArray[np.float64], reach_mm: float
) -> tuple[tuple[slice, slice, slice], NDArray[np.float64]]:
    """Index box around a world point, and the world coordinates of its corner voxel."""
    centre = template.world_to_voxel(centre_mm[None, :])[0]
    half = reach_mm / template.resolution_mm
    lo = np.maximum(np.floor(centre - half).astype(int), 0)
    hi = np.minimum(np.ceil(centre + half).astype(int) + 1, template.shape)
    hi = np.maximum(hi, lo + 1)
    box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    corner = template.affine[:3, :3] @ lo + template.affine[:3, 3]
    return box, corner


def _offsets(
    box: tuple[slice, slice, slice],
    corner: NDArray[np.float64],
    res: float,
    centre: NDArray[np.float64],
) -> tuple[F32, F32, F32]:
    """World offsets from ``centre`` of every voxel in ``box`` (broadcastable)."""
    axes = []
    for axis, part in enumerate(box):
        n = part.stop - part.start
        values = corner[axis] + res * np.arange(n, dtype=np.float64) - centre[axis]
        shape = [1, 1, 1]
        shape[axis] = n
        axes.append(values.astype(np.float32).reshape(shape))
    return axes[0], axes[1], axes[2]


def _mass_effect(anatomy: Anatomy, template: Template, lesion: Lesion) -> None:
    """Push the brain away from the lesion centre (radial, smooth, invertible)."""
    radius = lesion.mean_radius_mm
    displacement = lesion.mass_effect * radius
    if displacement < 0.5 * template.resolution_mm:
        return
    length = radius
    centre = np.asarray(lesion.push_from_mm)
    box, corner = _box(template, centre, 2.5 * length)
    dx, dy, dz = _offsets(box, corner, template.resolution_mm, centre)
    r2 = dx * dx + dy * dy + dz * dz
    # Tissue now at distance r came from r * (1 - (D/L) exp(-r^2 / 2L^2)): monotonic for D < L.
    shrink = 1.0 - (displacement / length) * np.exp(-r2 / (2.0 * length * length))
    voxel = template.world_to_voxel(centre[None, :])[0].astype(np.float32)
    res = np.float32(template.resolution_mm)
    coords = np.stack(
        np.broadcast_arrays(
            voxel[0] + dx * shrink / res, voxel[1] + dy * shrink / res, voxel[2] + dz * shrink / res
        )
    )
    for name in ("csf", "gm", "wm", "texture"):
        array = getattr(anatomy, name)
        array[box] = ndi.map_coordinates(array, coords, order=1, mode="constant", cval=0.0)


def _lattice(seed: int) -> F32:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((3, _LATTICE, _LATTICE, _LATTICE)).astype(np.float32)
    for channel in range(3):
        coarse = ndi.gaussian_filter(noise[channel], 2.5, mode="wrap")
        fine = ndi.gaussian_filter(noise[channel], 1.0, mode="wrap")
        coarse /= max(float(coarse.std()), 1e-6)
        fine /= max(float(fine.std()), 1e-6)
        smooth = coarse + 0.5 * fine
        noise[channel] = smooth / max(float(smooth.std()), 1e-6)
    return noise


def _soft(signed_mm: F32, res: float) -> F32:
    """Partial-volume fraction from a signed distance (positive inside)."""
    return np.asarray(np.clip(0.5 + signed_mm / np.float32(res), 0.0, 1.0), dtype=np.float32)


def _local_depth(anatomy: Anatomy, box: tuple[slice, slice, slice], res: float) -> F32:
    brain = (anatomy.csf[box] + anatomy.gm[box] + anatomy.wm[box]) > 0.5
    inside = ndi.distance_transform_edt(brain)
    outside = ndi.distance_transform_edt(~brain)
    return np.asarray((inside - outside) * res, dtype=np.float32)


def _keep_connected(oedema: F32, core: F32) -> F32:
    """Zero the oedema not connected to the tumour core."""
    region = (oedema > 0.5) | (core > 0.5)
    labels, count = ndi.label(region)
    if count <= 1:
        return oedema
    touching = np.unique(labels[core > 0.5])
    keep = np.isin(labels, touching[touching > 0])
    keep = ndi.binary_dilation(keep, iterations=1)
    return np.asarray(oedema * keep, dtype=np.float32)


def _paint(anatomy: Anatomy, template: Template, lesion: Lesion) -> LesionPaint:
    res = template.resolution_mm
    centre = np.asarray(lesion.centre_mm)
    box, corner = _box(template, centre, lesion.reach_mm)
    dx, dy, dz = _offsets(box, corner, res, centre)
    rot = np.asarray(lesion.rotation, dtype=np.float32)
    radii = np.asarray(lesion.radii_mm, dtype=np.float32)
    # Normalised coordinates in the lesion frame: u = R^T (y - c) / radii.
    u = [(rot[0, k] * dx + rot[1, k] * dy + rot[2, k] * dz) / radii[k] for k in range(3)]
    norm = np.sqrt(u[0] ** 2 + u[1] ** 2 + u[2] ** 2)
    scale = np.float32((_LATTICE - 1) / (2.0 * _LATTICE_SPAN))
    coords = np.stack(
        np.broadcast_arrays(
            *[(np.clip(c, -_LATTICE_SPAN, _LATTICE_SPAN) + _LATTICE_SPAN) * scale for c in u]
        )
    )
    lattice = _lattice(lesion.noise_seed)
    noise = [
        ndi.map_coordinates(lattice[ch], coords, order=1, mode="nearest").astype(np.float32)
        for ch in range(3)
    ]
    mean_r = np.float32(lesion.mean_radius_mm)
    shape_d = norm * (1.0 + np.float32(lesion.shape_noise) * np.tanh(noise[0]))
    core_mm = (1.0 - shape_d) * mean_r
    core = _soft(core_mm, res)
    paint = LesionPaint(kind=lesion.kind, box=box, shade=np.tanh(noise[1]).astype(np.float32))

    necrosis = np.zeros_like(core)
    if lesion.necrosis > 0:
        inner = np.float32(lesion.necrosis) * (
            1.0 + np.float32(lesion.rim_noise) * np.tanh(noise[1])
        )
        necrosis = _soft((inner - shape_d) * mean_r, res) * core
    solid = np.clip(core - necrosis, 0.0, 1.0)
    paint.fractions["necrosis"] = necrosis
    if lesion.kind == "meningioma":
        paint.fractions["meningioma"] = solid
    elif lesion.enhancing:
        paint.fractions["enhancing"] = solid
    else:
        paint.fractions["non_enhancing"] = solid

    if lesion.oedema_mm > 0:
        margin = np.float32(lesion.oedema_mm) * (1.0 + np.float32(0.4) * np.tanh(noise[2]))
        reach = _soft(core_mm + margin, res)
        wm = anatomy.wm[box]
        gm = anatomy.gm[box]
        # Vasogenic oedema follows white matter and spares the cortex.
        matter = np.clip((wm - 0.15) / 0.45, 0.0, 1.0) + 0.15 * np.clip(gm, 0.0, 1.0)
        oedema = np.clip(reach * np.clip(matter, 0.0, 1.0) - core, 0.0, 1.0)
        paint.fractions["oedema"] = _keep_connected(oedema.astype(np.float32), core)

    if lesion.dural_tail_mm > 0:
        depth = _local_depth(anatomy, box, res)
        shell = np.clip(1.0 - np.abs(depth + 1.0) / 1.5, 0.0, 1.0)
        dist = np.sqrt(dx * dx + dy * dy + dz * dz)
        beyond = np.maximum(dist - mean_r, 0.0)
        taper = np.exp(-beyond / np.float32(lesion.dural_tail_mm)) * (
            beyond < 3.0 * lesion.dural_tail_mm
        )
        paint.fractions["dura"] = (shell * taper * (1.0 - core)).astype(np.float32)
    return paint


def render_lesions(
    template: Template, lesions: list[Lesion]
) -> tuple[Anatomy, list[LesionPaint], NDArray[np.uint8]]:
    """Apply mass effect, draw every lesion and build the BraTS label map.

    Returns:
        The deformed anatomy, one paint per lesion and the uint8 label map
        (1 necrotic/non-enhancing core, 2 oedema, 3 enhancing), all on the
        template grid.
    """
    anatomy = Anatomy(
        csf=template.csf.copy(),
        gm=template.gm.copy(),
        wm=template.wm.copy(),
        texture=template.texture.copy(),
    )
    for lesion in lesions:
        _mass_effect(anatomy, template, lesion)
    paints = [_paint(anatomy, template, lesion) for lesion in lesions]
    labels = np.zeros(template.shape, dtype=np.uint8)
    for paint in paints:
        view = labels[paint.box]
        oedema = paint.fractions.get("oedema")
        if oedema is not None:
            view[(oedema > 0.5) & (view == 0)] = LABEL_OEDEMA
    for paint in paints:
        view = labels[paint.box]
        solid = (
            paint.fractions.get("enhancing", 0)
            + paint.fractions.get("meningioma", 0)
            + paint.fractions.get("non_enhancing", 0)
        )
        necrosis = paint.fractions["necrosis"]
        core = (np.asarray(solid) + necrosis) > 0.5
        enhancing = "non_enhancing" not in paint.fractions
        view[core] = LABEL_ENHANCING if enhancing else LABEL_NECROTIC
        view[core & (necrosis > np.asarray(solid))] = LABEL_NECROTIC
    return anatomy, paints, labels
