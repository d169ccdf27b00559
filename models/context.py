"""Whole-brain context of a tumour: where its lesions lie and how many there are.

The embedder's crops are centred on the largest lesion and show one axial level, so
they cannot tell a solitary lesion from one of several, nor deep white matter from the
grey-white junction or the brain surface: exactly what separates a glioma from a
metastasis or a meningioma. The context planes add that, as binary maps of the tumour
and the brain on a coarse grid centred on the brain:

0. the tumour's axial maximum-intensity projection (every lesion, seen from above);
1. the brain's axial projection (the frame of reference);
2. the tumour in the axial slice at its centroid level (:func:`centroid_level`; the
   largest-area slice of the crops jumps by several millimetres between two
   segmentations of a large, flat-topped tumour, the centroid hardly moves);
3. the brain in that slice (the lesion's depth from the surface at that level);
4. the tumour's coronal projection (lesions' heights);
5. the brain's coronal projection.

Only masks go in, no intensities: the planes do not change with the scanner's contrast.
"""

from __future__ import annotations

import numpy as np

from models.errors import EmptyMaskError
from models.plane_sampling import crop_at
from models.study_arrays import bounding_box

__all__ = [
    "CONTEXT_CHANNELS",
    "CONTEXT_PIXEL_MM",
    "CONTEXT_SIZE_PX",
    "brain_mask",
    "centroid_level",
    "context_planes",
]

#: Context planes are ``CONTEXT_SIZE_PX`` pixels square ...
CONTEXT_SIZE_PX = 64
#: ... of this size (a 192 mm field: the whole adult brain).
CONTEXT_PIXEL_MM = 3.0
#: Number of context planes (see the module's description for their order).
CONTEXT_CHANNELS = 6


def brain_mask(channels: np.ndarray) -> np.ndarray:
    """Voxels that hold brain in any normalised sequence ``[C, X, Y, Z]`` (background is 0).

    One sequence at a time (as ``np.any(channels != 0, axis=0)``, without the ``[C, ...]``
    temporary: about half the time on a 1 mm study).
    """
    brain = np.asarray(channels[0] != 0)
    for sequence in channels[1:]:
        brain |= sequence != 0
    return brain


def centroid_level(voxels_per_slice: np.ndarray) -> int:
    """The axial slice through the tumour's centroid (the level of planes 2 and 3).

    Args:
        voxels_per_slice: tumour voxels in each axial slice (``tumour.sum(axis=(0, 1))``,
            which the callers have already counted to find the largest-area slice).
    """
    areas = np.asarray(voxels_per_slice, dtype=np.float64)
    total = float(areas.sum())
    if total == 0:
        raise EmptyMaskError("the tumour mask is empty")
    return round(float((areas * np.arange(areas.size)).sum() / total))


def _centre(axial: np.ndarray, coronal: np.ndarray) -> tuple[float, float, float]:
    """Centre of a mask's bounding box in voxel coordinates, from its axial ``[X, Y]`` and
    coronal ``[X, Z]`` projections (which hold every plane the mask reaches)."""
    extents = (axial.any(axis=1), axial.any(axis=0), coronal.any(axis=0))
    centre = []
    for reached in extents:
        where = np.flatnonzero(reached)
        centre.append((where[0] + where[-1]) / 2.0)
    return (float(centre[0]), float(centre[1]), float(centre[2]))


def context_planes(
    tumour: np.ndarray,
    brain: np.ndarray,
    spacing: np.ndarray,
    slice_index: int,
    *,
    margin_px: int = 0,
    tumour_box: tuple[slice, slice, slice] | None = None,
) -> np.ndarray:
    """The six context planes of a tumour.

    Args:
        tumour: boolean tumour mask ``(X, Y, Z)`` in canonical RAS order.
        brain: boolean brain mask on the same grid (the tumour is added to it).
        spacing: voxel size in mm along ``X``, ``Y``, ``Z``.
        slice_index: the axial slice of planes 2 and 3.
        margin_px: extra pixels on each side (training crops jitter within them).
        tumour_box: the tumour's :func:`~models.study_arrays.bounding_box` when the caller
            has it (found here otherwise).

    Returns:
        float32 ``[CONTEXT_CHANNELS, S, S]`` with ``S = CONTEXT_SIZE_PX + 2 * margin_px``;
        the first axis of each plane runs along ``X`` (towards Right), like the crops.

    Raises:
        EmptyMaskError: the tumour mask is empty.
    """
    tumour = np.asarray(tumour, dtype=bool)
    box = bounding_box(tumour) if tumour_box is None else tumour_box
    if box is None:
        raise EmptyMaskError("the tumour mask is empty")
    # The tumour's projections are made in its box, the brain's once each; the brain
    # planes are those of ``brain | tumour``, as the union of the two masks' planes.
    inside = tumour[box]
    tumour_axial = np.zeros(tumour.shape[:2], dtype=bool)
    tumour_axial[box[0], box[1]] = inside.any(axis=2)
    tumour_coronal = np.zeros((tumour.shape[0], tumour.shape[2]), dtype=bool)
    tumour_coronal[box[0], box[2]] = inside.any(axis=1)
    brain = np.asarray(brain, dtype=bool)
    brain_axial = brain.any(axis=2) | tumour_axial
    brain_coronal = brain.any(axis=1) | tumour_coronal
    tumour_slice = tumour[:, :, slice_index]
    ci, cj, ck = _centre(brain_axial, brain_coronal)
    size = CONTEXT_SIZE_PX + 2 * margin_px
    axial = np.stack(
        [tumour_axial, brain_axial, tumour_slice, brain[:, :, slice_index] | tumour_slice]
    ).astype(np.float32)
    coronal = np.stack([tumour_coronal, brain_coronal]).astype(np.float32)
    spacing_xy = (float(spacing[0]), float(spacing[1]))
    spacing_xz = (float(spacing[0]), float(spacing[2]))
    return np.concatenate(
        [
            crop_at(axial, (ci, cj), spacing_xy, size_px=size, pixel_mm=CONTEXT_PIXEL_MM),
            crop_at(coronal, (ci, ck), spacing_xz, size_px=size, pixel_mm=CONTEXT_PIXEL_MM),
        ]
    )
