"""Tumour slice selection and crops.

From a tumour mask, the axial slice with the largest tumour area is chosen together
with its neighbours (2.5D), and each is cut out of the four normalised sequences at a
fixed physical size centred on the tumour. The seed prototype's variants are kept for
comparison: ``"whole"`` (the entire slice), ``"masked"`` (tumour only) and ``"boxed"``
(the tumour's bounding box, stretched to the output size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from models.context import brain_mask, centroid_level, context_planes
from models.errors import EmptyMaskError, InvalidStudyError
from models.plane_sampling import crop_at
from models.study_arrays import (
    StudyLike,
    bounding_box,
    normalised_channels,
    present_channels,
    study_shape,
    voxel_spacing,
)

__all__ = [
    "CROP_FIELD_MM",
    "CROP_SIZE_PX",
    "CropVariant",
    "TumourSlices",
    "crop_at",
    "select_tumour_slices",
    "tumour_centre_in_slice",
]

CropVariant = Literal["crop", "masked", "boxed", "whole"]

#: Output crops are ``CROP_SIZE_PX`` pixels square ...
CROP_SIZE_PX = 64
#: ... covering ``CROP_FIELD_MM`` millimetres (1.5 mm pixels).
CROP_FIELD_MM = 96.0
#: Distance between the central slice and its neighbours.
NEIGHBOUR_MM = 4.0


@dataclass(frozen=True)
class TumourSlices:
    """The chosen axial slices of a tumour and their crops.

    Attributes:
        indices: axial slice indices ``k`` of the crops, central slice in the middle.
        centre_index: the slice with the largest tumour area.
        areas_mm2: tumour area of each slice in ``indices``.
        centre_voxel: ``(i, j)`` voxel position of the crop centre in those slices.
        centroid_ras_mm: centroid of the whole tumour, RAS+ millimetres.
        crops: float32 ``[n, 4, size, size]``, channels in ``CHANNELS`` order,
            first crop axis along ``i`` (towards Right), second along ``j`` (Anterior).
        variant: which of the crop variants was made.
        pixel_mm: pixel size of ``crops`` (``nan`` for the stretched ``"boxed"`` variant).
        sequences: the sequences present in the study (missing ones are zero channels).
        context: float32 ``[CONTEXT_CHANNELS, S, S]`` whole-brain context planes of the
            tumour (:func:`models.context.context_planes`), shared by every crop; their
            slice planes are taken at the tumour's centroid level, which moves less than
            the largest-area slice when a segmentation differs a little from another.
    """

    indices: tuple[int, ...]
    centre_index: int
    areas_mm2: tuple[float, ...]
    centre_voxel: tuple[float, float]
    centroid_ras_mm: tuple[float, float, float]
    crops: np.ndarray
    variant: str
    pixel_mm: float
    sequences: tuple[str, ...]
    context: np.ndarray

    @property
    def centroid_lps_mm(self) -> tuple[float, float, float]:
        """The tumour centroid in DICOM patient coordinates (LPS)."""
        x, y, z = self.centroid_ras_mm
        return (-x, -y, z)


def _check_mask(
    study: StudyLike, mask: np.ndarray
) -> tuple[np.ndarray, tuple[slice, slice, slice]]:
    """The tumour (any label) and its bounding box."""
    shape = study_shape(study)
    if tuple(mask.shape) != shape:
        raise InvalidStudyError(f"mask shape {tuple(mask.shape)} differs from the study's {shape}")
    tumour = np.asarray(mask) > 0
    box = bounding_box(tumour)
    if box is None:
        raise EmptyMaskError("the tumour mask is empty")
    return tumour, box


def tumour_centre_in_slice(tumour_slice: np.ndarray) -> tuple[float, float]:
    """Centroid ``(i, j)`` of the largest connected tumour region of a 2-D slice."""
    labels, count = ndimage.label(tumour_slice)
    if count == 0:
        raise EmptyMaskError("the slice holds no tumour")
    sizes = ndimage.sum_labels(tumour_slice, labels, index=np.arange(1, count + 1))
    largest = int(np.argmax(sizes)) + 1
    ci, cj = ndimage.center_of_mass(labels == largest)
    return (float(ci), float(cj))


def _neighbour_indices(centre: int, depth: int, n_neighbours: int, step: int) -> tuple[int, ...]:
    offsets = range(-n_neighbours, n_neighbours + 1)
    return tuple(int(np.clip(centre + o * step, 0, depth - 1)) for o in offsets)


def select_tumour_slices(
    study: StudyLike,
    mask: np.ndarray,
    *,
    variant: CropVariant = "crop",
    n_neighbours: int = 1,
    neighbour_mm: float = NEIGHBOUR_MM,
    size_px: int = CROP_SIZE_PX,
    field_mm: float = CROP_FIELD_MM,
    channels: np.ndarray | None = None,
    brain: np.ndarray | None = None,
) -> TumourSlices:
    """Choose the largest-area axial slice and its neighbours and crop them.

    Args:
        study: the study (canonical RAS ``(X, Y, Z)`` arrays).
        mask: BraTS label mask on the study grid (any non-zero label is tumour).
        variant: ``"crop"`` (default, fixed physical field centred on the tumour),
            ``"masked"`` (the same with everything outside the tumour zeroed),
            ``"boxed"`` (the tumour's bounding box with a 10 % margin, stretched) or
            ``"whole"`` (the whole slice).
        n_neighbours: slices taken on each side of the central slice.
        neighbour_mm: distance between neighbouring crops (at least one voxel).
        size_px: crop side in pixels.
        field_mm: physical side of ``"crop"`` and ``"masked"`` crops.
        channels: precomputed :func:`normalised_channels` of ``study`` (saves time).
        brain: precomputed :func:`models.context.brain_mask` of ``channels`` (saves time).

    Returns:
        The chosen slices and their crops.

    Raises:
        EmptyMaskError: the mask holds no tumour.
        InvalidStudyError: shapes disagree or no sequence is present.
    """
    tumour, box = _check_mask(study, mask)
    spacing = voxel_spacing(study.affine)
    if channels is None:
        channels = normalised_channels(study)
    depth = tumour.shape[2]
    # Everything about the tumour is counted inside its box (a 1 mm study holds ~9 M
    # voxels, the tumour's box a few per cent of them); the results are those of the
    # whole grid, bit for bit.
    voxels_per_slice = np.zeros(depth, dtype=np.intp)
    voxels_per_slice[box[2]] = tumour[box].sum(axis=(0, 1))
    areas = voxels_per_slice.astype(np.float64) * spacing[0] * spacing[1]
    centre_index = int(np.argmax(areas))
    step = max(1, round(neighbour_mm / spacing[2]))
    indices = _neighbour_indices(centre_index, depth, n_neighbours, step)
    centre = tumour_centre_in_slice(tumour[:, :, centre_index])
    spacing_ij = (float(spacing[0]), float(spacing[1]))

    crops = []
    pixel_mm = field_mm / size_px
    for k in indices:
        planes = channels[:, :, :, k]
        if variant in ("crop", "masked"):
            crop = crop_at(planes, centre, spacing_ij, size_px=size_px, pixel_mm=pixel_mm)
            if variant == "masked":
                inside = crop_at(
                    tumour[None, :, :, k].astype(np.float32),
                    centre,
                    spacing_ij,
                    size_px=size_px,
                    pixel_mm=pixel_mm,
                    order=0,
                )
                crop = crop * inside
        elif variant == "boxed":
            crop, pixel_mm = _boxed(planes, tumour[:, :, centre_index], spacing_ij, size_px)
        elif variant == "whole":
            crop, pixel_mm = _whole(planes, spacing_ij, size_px)
        else:
            raise ValueError(
                f"Argument 'variant' must be crop, masked, boxed or whole: {variant!r}"
            )
        crops.append(crop)

    corner = np.array([b.start for b in box], dtype=np.intp)
    vox = (np.argwhere(tumour[box]) + corner).mean(axis=0)
    ras = np.asarray(study.affine, dtype=np.float64) @ np.append(vox, 1.0)
    return TumourSlices(
        indices=indices,
        centre_index=centre_index,
        areas_mm2=tuple(float(areas[k]) for k in indices),
        centre_voxel=centre,
        centroid_ras_mm=(float(ras[0]), float(ras[1]), float(ras[2])),
        crops=np.stack(crops).astype(np.float32),
        variant=variant,
        pixel_mm=float(pixel_mm),
        sequences=present_channels(study),
        context=context_planes(
            tumour,
            brain_mask(channels) if brain is None else brain,
            spacing,
            centroid_level(voxels_per_slice),
            tumour_box=box,
        ),
    )


def _boxed(
    planes: np.ndarray, tumour_slice: np.ndarray, spacing_ij: tuple[float, float], size_px: int
) -> tuple[np.ndarray, float]:
    where = np.argwhere(tumour_slice)
    lo, hi = where.min(axis=0), where.max(axis=0) + 1
    centre = ((lo[0] + hi[0] - 1) / 2.0, (lo[1] + hi[1] - 1) / 2.0)
    extent_mm = max((hi[0] - lo[0]) * spacing_ij[0], (hi[1] - lo[1]) * spacing_ij[1]) * 1.1
    pixel_mm = max(extent_mm, 1e-3) / size_px
    crop = crop_at(planes, centre, spacing_ij, size_px=size_px, pixel_mm=pixel_mm)
    return crop, float("nan")


def _whole(
    planes: np.ndarray, spacing_ij: tuple[float, float], size_px: int
) -> tuple[np.ndarray, float]:
    extent_i = planes.shape[1] * spacing_ij[0]
    extent_j = planes.shape[2] * spacing_ij[1]
    pixel_mm = max(extent_i, extent_j) / size_px
    centre = ((planes.shape[1] - 1) / 2.0, (planes.shape[2] - 1) / 2.0)
    return crop_at(planes, centre, spacing_ij, size_px=size_px, pixel_mm=pixel_mm), pixel_mm
