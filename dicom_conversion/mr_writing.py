"""Writing a volume as a single-frame MR Image Storage series.

Used to push archive and synthetic cases into a PACS. The output validates with
``dciodvfy`` (dicom3tools) without errors; see the unit tests. The header (patient,
study, series, acquisition) is :mod:`~dicom_conversion.mr_header`'s.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydicom import Dataset, FileMetaDataset
from pydicom.uid import generate_uid
from pydicom.valuerep import format_number_as_ds

from dicom_conversion.errors import ConversionError
from dicom_conversion.mr_header import SEQUENCE_ATTRIBUTES, StudyInfo, series_template
from dicom_conversion.orientation import affine_ras_to_lps, reorient
from dicom_conversion.sequences import MRSequence

__all__ = [
    "SEQUENCE_ATTRIBUTES",
    "SliceOrientation",
    "StudyInfo",
    "save_series",
    "write_mr_series",
]

SliceOrientation = Literal["axial", "coronal", "sagittal"]

# Array axes (RAS axis codes) for the conventional radiological display of each
# plane: axis 0 runs along the image columns (left to right on screen), axis 1
# down the rows, axis 2 across the slices.
_AXCODES: dict[str, tuple[str, str, str]] = {
    "axial": ("L", "P", "S"),
    "coronal": ("L", "I", "P"),
    "sagittal": ("P", "I", "R"),
}


def _ds(value: float) -> str:
    return format_number_as_ds(float(value))


def _quantise(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Stored integer pixels plus rescale slope/intercept (1, 0 when exact)."""
    finite = np.isfinite(array)
    if not finite.all():
        raise ConversionError("Volume to write contains NaN or infinite values")
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if np.issubdtype(array.dtype, np.integer) or np.array_equal(array, np.round(array)):
        if low >= -32768 and high <= 32767:
            return array.astype(np.int16), 1.0, 0.0
        if low >= 0 and high <= 65535:
            return array.astype(np.uint16), 1.0, 0.0
    slope = (high - low) / 65535.0 if high > low else 1.0
    stored = np.round((array - low) / slope).astype(np.uint16)
    return stored, slope, low


def _window(stored: np.ndarray, slope: float, intercept: float) -> tuple[float, float]:
    sample = stored[:: max(1, stored.shape[0] // 16)]
    low, high = np.percentile(sample, [0.5, 99.5]) if sample.size else (0.0, 1.0)
    low, high = low * slope + intercept, high * slope + intercept
    width = max(float(high - low), 1.0)
    return float(low + high) / 2.0, width


def write_mr_series(
    volume_xyz: np.ndarray,
    affine_ras: np.ndarray,
    *,
    sequence: MRSequence,
    study: StudyInfo,
    series_number: int,
    series_description: str,
    orientation: SliceOrientation = "axial",
    series_instance_uid: str | None = None,
    manufacturer: str = "simcase",
    attributes: Mapping[str, Any] | None = None,
    series_datetime: dt.datetime | None = None,
) -> list[Dataset]:
    """Write a 3D volume as a single-frame MR Image Storage series.

    Parameters
    ----------
    volume_xyz:
        3D array (any numeric dtype) indexed like ``affine_ras``.
    affine_ras:
        4x4 voxel-to-RAS+ affine in millimetres (nibabel convention).
    sequence:
        The contrast; fills ScanningSequence, SequenceVariant, EchoTime,
        RepetitionTime, InversionTime and (for T1C) ContrastBolusAgent.
    study:
        Patient and study attributes.
    series_number, series_description:
        SeriesNumber and SeriesDescription.
    orientation:
        Acquisition plane of the written slices: ``"axial"``, ``"coronal"`` or
        ``"sagittal"``; an oblique affine gives oblique slices closest to that plane.
    series_instance_uid:
        Defaults to a UID derived from the study UID, series number and sequence.
    manufacturer:
        Manufacturer attribute.
    attributes:
        Vendor-style overrides applied last to every slice (keyword -> value),
        e.g. ``{"EchoTime": 95.0, "Manufacturer": "GE MEDICAL SYSTEMS"}``.
    series_datetime:
        SeriesDate/SeriesTime/ContentDate/ContentTime; defaults to now.

    Returns
    -------
    list[pydicom.Dataset]
        One dataset per slice, in slice order, with file meta information.

    Raises
    ------
    ConversionError
        If the volume is not 3D, the affine not 4x4 or the orientation unknown.
    """
    array = np.asarray(volume_xyz)
    affine = np.asarray(affine_ras, dtype=np.float64)
    if array.ndim != 3:
        raise ConversionError(f"Argument 'volume_xyz' must be 3D, got shape {array.shape}")
    if affine.shape != (4, 4):
        raise ConversionError(f"Argument 'affine_ras' must be 4x4, got shape {affine.shape}")
    if orientation not in _AXCODES:
        raise ConversionError(f"Argument 'orientation' must be one of {sorted(_AXCODES)}")

    oriented, oriented_ras = reorient(array, affine, _AXCODES[orientation])
    affine_lps = affine_ras_to_lps(oriented_ras)
    spacing = np.linalg.norm(affine_lps[:3, :3], axis=0)
    directions = affine_lps[:3, :3] / spacing
    stored, slope, intercept = _quantise(oriented)
    centre, width = _window(stored, slope, intercept)
    columns, rows, n_slices = stored.shape

    when = series_datetime or dt.datetime.now()
    series_uid = series_instance_uid or str(
        generate_uid(
            entropy_srcs=[study.study_instance_uid, str(series_number), sequence.value, "series"]
        )
    )
    base = series_template(
        study=study,
        sequence=sequence,
        series_uid=series_uid,
        series_number=series_number,
        series_description=series_description,
        manufacturer=manufacturer,
        when=when,
    )
    base.Rows = rows
    base.Columns = columns
    base.PixelSpacing = [_ds(spacing[1]), _ds(spacing[0])]
    base.SliceThickness = _ds(spacing[2])
    base.SpacingBetweenSlices = _ds(spacing[2])
    base.ImageOrientationPatient = [_ds(v) for v in (*directions[:, 0], *directions[:, 1])]
    base.BitsAllocated = 16
    base.BitsStored = 16
    base.HighBit = 15
    base.PixelRepresentation = 1 if stored.dtype == np.int16 else 0
    base.WindowCenter = _ds(centre)
    base.WindowWidth = _ds(width)
    if slope != 1.0 or intercept != 0.0:
        base.RescaleSlope = _ds(slope)
        base.RescaleIntercept = _ds(intercept)
        base.RescaleType = "US"
    for keyword, value in (attributes or {}).items():
        setattr(base, keyword, value)

    normal = directions[:, 2]
    datasets: list[Dataset] = []
    for k in range(n_slices):
        # Fresh elements per slice: a later edit of one slice must not change the others.
        ds = Dataset({tag: copy.copy(element) for tag, element in base.items()})
        ds.file_meta = FileMetaDataset(
            {tag: copy.copy(element) for tag, element in base.file_meta.items()}
        )
        sop_uid = generate_uid(entropy_srcs=[series_uid, str(k), "instance"])
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = k + 1
        position = affine_lps @ np.array([0.0, 0.0, float(k), 1.0])
        ds.ImagePositionPatient = [_ds(v) for v in position[:3]]
        ds.SliceLocation = _ds(float(position[:3] @ normal))
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()
        datasets.append(ds)
    return datasets


def save_series(datasets: Sequence[Dataset], out_dir: Path) -> list[Path]:
    """Write a series as ``<out_dir>/<SOPInstanceUID>.dcm`` files (DICOM Part 10)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = out_dir / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
