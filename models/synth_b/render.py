"""Noise-free images on the patient grid: tissue fractions times each sequence's
intensities, lesions with partial volume, dura, falx, choroid plexus and vessels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b.anatomy import Anatomy
from models.synth_b.contrast import Contrast
from models.synth_b.lesion_drawing import Tissue

__all__ = ["Scene", "build_scene", "render"]

FloatArray = npt.NDArray[np.float32]

_LESION_FIELDS = {
    Tissue.OEDEMA: ("oedema", 0.06),
    Tissue.NECROSIS: ("necrosis", 0.08),
    Tissue.ENHANCING: ("enhancing", 0.15),
    Tissue.NON_ENHANCING: ("non_enhancing", 0.08),
    Tissue.MENINGIOMA: ("meningioma", 0.03),
    Tissue.CYST: ("cyst", 0.02),
}


@dataclass
class Scene:
    """Everything rendering needs, shared by the four sequences."""

    anatomy: Anatomy
    dura: FloatArray
    choroid: FloatArray
    vessels: FloatArray
    tail: FloatArray
    lesion: npt.NDArray[np.uint8]  # Tissue class per voxel
    grain_grey: FloatArray
    grain_white: FloatArray
    lesion_box: tuple[slice, slice, slice] | None
    lesion_fractions: dict[int, FloatArray]
    lesion_grain: FloatArray | None


def _grain(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> FloatArray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    field /= max(float(field.std()), 1e-6)
    return np.asarray(field, dtype=np.float32)


def build_scene(
    anatomy: Anatomy,
    intracranial: npt.NDArray[np.bool_],
    lesion: npt.NDArray[np.uint8],
    tail: FloatArray,
    rng: np.random.Generator,
    resolution_mm: float,
) -> Scene:
    """Dura, falx, choroid plexus, vessels, grain fields and lesion partial volumes."""
    shell = intracranial & ~ndimage.binary_erosion(intracranial)
    x, y, z = anatomy.mni
    falx = intracranial & (np.abs(x) < 0.8 * resolution_mm) & (z > 0) & (anatomy.csf > 0.4)
    thin = min(0.5, 0.8 / resolution_mm)  # about a millimetre of dura in the voxel
    dura = np.where(shell, thin, 0.0) + np.where(falx, 1.2 * thin, 0.0)
    atrium = np.minimum((np.abs(x) - 27.0) ** 2 + (y + 40.0) ** 2 + (z - 14.0) ** 2, 1e9)
    choroid = np.where((anatomy.ventricles > 0.4) & (atrium < 81.0), 0.7, 0.0)
    sulcal = np.clip(anatomy.csf - anatomy.ventricles, 0.0, 1.0)
    vessels = np.where((sulcal > 0.5) & (rng.random(sulcal.shape) < 0.015), 0.8, 0.0)
    lesion_box = None
    fractions: dict[int, FloatArray] = {}
    lesion_grain = None
    present = np.argwhere(lesion > 0)
    if present.size:
        lo = np.maximum(present.min(axis=0) - 2, 0)
        hi = np.minimum(present.max(axis=0) + 3, lesion.shape)
        lesion_box = (
            slice(int(lo[0]), int(hi[0])),
            slice(int(lo[1]), int(hi[1])),
            slice(int(lo[2]), int(hi[2])),
        )
        classes = lesion[lesion_box]
        for value in np.unique(classes[classes > 0]):
            one_hot = (classes == value).astype(np.float32)
            fractions[int(value)] = np.asarray(
                ndimage.gaussian_filter(one_hot, 0.5), dtype=np.float32
            )
        lesion_grain = _grain(rng, classes.shape, 1.0)
    return Scene(
        anatomy=anatomy,
        dura=np.asarray(dura, dtype=np.float32),
        choroid=np.asarray(choroid, dtype=np.float32),
        vessels=np.asarray(vessels, dtype=np.float32),
        tail=tail,
        lesion=lesion,
        grain_grey=_grain(rng, lesion.shape, 0.7),
        grain_white=_grain(rng, lesion.shape, 1.0),
        lesion_box=lesion_box,
        lesion_fractions=fractions,
        lesion_grain=lesion_grain,
    )


def render(scene: Scene, contrast: Contrast, post_contrast: bool) -> FloatArray:
    """One sequence's noise-free image (white matter = 1)."""
    a = scene.anatomy
    t = contrast.texture
    csf = np.clip(a.csf, 0.0, None)
    image = (
        a.wm * contrast.wm * (1.0 + t * scene.grain_white)
        + a.gm * contrast.gm * (1.0 + t * scene.grain_grey)
        + csf * contrast.csf * (1.0 + 0.3 * t * scene.grain_grey)
    )
    image = image * (1.0 - scene.dura) + scene.dura * contrast.dura * (a.gm + a.wm + a.csf > 0.05)
    if post_contrast:
        image += scene.choroid * (contrast.choroid - image)
        image += scene.vessels * (contrast.vessel - image)
        image += scene.tail * (contrast.dural_tail - image)
    if scene.lesion_box is not None and scene.lesion_grain is not None:
        box = scene.lesion_box
        total = np.zeros(scene.lesion_grain.shape, dtype=np.float32)
        lesion_image = np.zeros_like(total)
        for value, fraction in scene.lesion_fractions.items():
            name, grain = _LESION_FIELDS[value]
            level = float(getattr(contrast, name))
            lesion_image += fraction * level * (1.0 + grain * scene.lesion_grain)
            total += fraction
        total = np.clip(total, 0.0, 1.0)
        image[box] = image[box] * (1.0 - total) + lesion_image
    return np.asarray(image, dtype=np.float32)
