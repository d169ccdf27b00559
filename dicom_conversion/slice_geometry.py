"""Where the slices of a single-frame series lie: orientation, pixel spacing and
positions (read from the raw bytes when uniform and clean), duplicates dropped or
refused, and the slice spacing checked for gaps and irregular steps."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from pydicom import Dataset

from dicom_conversion.errors import (
    ConflictingDuplicateSliceError,
    InconsistentSpacingError,
    MissingSliceError,
    MixedOrientationError,
    MixedSizeError,
    NotAnImageError,
)
from dicom_conversion.pixel_decoding import series_uid_of
from dicom_conversion.raw_elements import is_raw, raw_values, uniform_raw

__all__ = ["POSITION_TOL", "drop_duplicates", "slice_geometry", "slice_spacing"]

logger = logging.getLogger(__name__)

_ORIENTATION = 0x00200037
_POSITION = 0x00200032
_PIXEL_SPACING = 0x00280030
_ROWS = 0x00280010
_COLUMNS = 0x00280011
_ORIENTATION_TOL = 1e-4
#: Two slices closer than this along the normal are at one position (mm).
POSITION_TOL = 1e-2
_SPACING_RTOL = 0.01


def _floats(ds: Dataset, keyword: str, n: int) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        raise NotAnImageError(
            f"Instance {ds.get('SOPInstanceUID', '?')} of series {series_uid_of(ds)} has no "
            f"{keyword}: not an image in patient coordinates"
        )
    try:
        arr = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NotAnImageError(
            f"Instance {ds.get('SOPInstanceUID', '?')} of series {series_uid_of(ds)}: bad {keyword}"
        ) from exc
    if arr.shape != (n,):
        raise NotAnImageError(
            f"Instance {ds.get('SOPInstanceUID', '?')} of series {series_uid_of(ds)}: {keyword} "
            f"has {arr.size} values, expected {n}"
        )
    return arr


def _parse_ds(raw: bytes, n: int) -> np.ndarray | None:
    try:
        values = np.array([float(v) for v in raw.split(b"\\")], dtype=np.float64)
    except ValueError:
        return None
    return values if values.shape == (n,) else None


def _geometry_fast(
    datasets: Sequence[Dataset],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Orientation, pixel spacing and positions from raw bytes, when uniform and clean."""
    orientation_raw = uniform_raw(datasets, _ORIENTATION)
    spacing_raw = uniform_raw(datasets, _PIXEL_SPACING)
    if not (isinstance(orientation_raw, bytes) and isinstance(spacing_raw, bytes)):
        return None
    if not (is_raw(uniform_raw(datasets, _ROWS)) and is_raw(uniform_raw(datasets, _COLUMNS))):
        return None
    positions_raw = raw_values(datasets, _POSITION)
    if positions_raw is None or any(v is None for v in positions_raw):
        return None
    orientation = _parse_ds(orientation_raw, 6)
    spacing = _parse_ds(spacing_raw, 2)
    positions = [_parse_ds(v, 3) for v in positions_raw if v is not None]
    if orientation is None or spacing is None or any(p is None for p in positions):
        return None
    return orientation, spacing, np.array(positions, dtype=np.float64)


def slice_geometry(
    datasets: Sequence[Dataset], series_uid: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fast = _geometry_fast(datasets)
    if fast is not None:
        return fast
    orientation = _floats(datasets[0], "ImageOrientationPatient", 6)
    spacing = _floats(datasets[0], "PixelSpacing", 2)
    shape = (int(datasets[0].get("Rows", 0)), int(datasets[0].get("Columns", 0)))
    positions = np.empty((len(datasets), 3), dtype=np.float64)
    for index, ds in enumerate(datasets):
        if index:
            other = _floats(ds, "ImageOrientationPatient", 6)
            if np.abs(other - orientation).max() > _ORIENTATION_TOL:
                raise MixedOrientationError(
                    f"Series {series_uid} mixes orientations: {orientation.tolist()} and "
                    f"{other.tolist()} (instance {ds.get('SOPInstanceUID', '?')})"
                )
            size = (int(ds.get("Rows", 0)), int(ds.get("Columns", 0)))
            if size != shape:
                raise MixedSizeError(f"Series {series_uid} mixes image sizes {shape} and {size}")
            other_spacing = _floats(ds, "PixelSpacing", 2)
            if np.abs(other_spacing - spacing).max() > 1e-4:
                raise MixedSizeError(
                    f"Series {series_uid} mixes pixel spacings {spacing.tolist()} and "
                    f"{other_spacing.tolist()}"
                )
        positions[index] = _floats(ds, "ImagePositionPatient", 3)
    return orientation, spacing, positions


def drop_duplicates(
    frames: np.ndarray, along: np.ndarray, series_uid: str
) -> tuple[list[int], np.ndarray]:
    """Drop exact duplicate slices (same position and pixels); refuse conflicting ones."""
    kept = [0]
    for index in range(1, len(frames)):
        if abs(along[index] - along[kept[-1]]) <= POSITION_TOL:
            if np.array_equal(frames[index], frames[kept[-1]]):
                logger.warning(
                    "dropping exact duplicate slice",
                    extra={"series_instance_uid": series_uid, "position_mm": float(along[index])},
                )
                continue
            raise ConflictingDuplicateSliceError(
                f"Series {series_uid} has two different slices at {along[index]:.3f} mm "
                "along the slice normal"
            )
        kept.append(index)
    return kept, along[kept]


def slice_spacing(first: Dataset, along: np.ndarray, series_uid: str) -> float:
    if along.size == 1:
        value = first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0
        return float(value)
    steps = np.diff(along)
    step = float(steps.min())
    if np.all(np.abs(steps - step) <= max(POSITION_TOL, _SPACING_RTOL * step)):
        return float(steps.mean())
    ratios = steps / step
    if np.all(np.abs(ratios - np.round(ratios)) <= _SPACING_RTOL * np.round(ratios)):
        gaps = [
            f"{along[i]:.2f}..{along[i + 1]:.2f} mm ({round(ratios[i]) - 1} missing)"
            for i in np.flatnonzero(np.round(ratios) > 1)
        ]
        raise MissingSliceError(
            f"Series {series_uid} is missing slices: gaps at {', '.join(gaps)} "
            f"(spacing {step:.3f} mm)"
        )
    raise InconsistentSpacingError(
        f"Series {series_uid} has irregular slice spacing: steps from {step:.3f} to "
        f"{float(steps.max()):.3f} mm"
    )
