"""One DICOM MR series (single-frame or enhanced multi-frame) to a ``SeriesVolume``.

Geometry is checked loudly (orientation, sizes, gaps, spacing, duplicates:
:mod:`~dicom_conversion.slice_geometry`) and the volume is built as a
``highdicom.Volume`` in patient (LPS) coordinates; the pixels are read by
:mod:`~dicom_conversion.pixel_decoding`.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom import Dataset

from dicom_conversion.errors import (
    ConversionError,
    CorruptDatasetError,
    InconsistentSpacingError,
    MixedSeriesError,
    NotAnImageError,
)
from dicom_conversion.orientation import (
    affine_lps_to_ras,
    apply_transform,
    canonical_transforms,
    oriented_shape,
)
from dicom_conversion.pixel_decoding import decode_all_fast, decode_frame, series_uid_of
from dicom_conversion.raw_elements import is_raw, raw_text, uniform_raw
from dicom_conversion.sequences import MRSequence
from dicom_conversion.slice_geometry import (
    POSITION_TOL,
    drop_duplicates,
    slice_geometry,
    slice_spacing,
)
from dicom_conversion.volumes import SeriesVolume

__all__ = ["decode_frame", "load_series", "series_description"]

_SERIES_UID = 0x0020000E
_STUDY_UID = 0x0020000D
_FRAME_UID = 0x00200052


def series_description(ds: Dataset) -> str:
    """SeriesDescription, else ProtocolName, else an empty string."""
    return str(ds.get("SeriesDescription") or ds.get("ProtocolName") or "")


def _check_same_series(datasets: Sequence[Dataset]) -> tuple[str, str | None, str]:
    first = datasets[0]
    if is_raw(uniform_raw(datasets, _SERIES_UID)) and is_raw(uniform_raw(datasets, _FRAME_UID)):
        frame_text = raw_text(first, _FRAME_UID, "FrameOfReferenceUID")
        return (
            raw_text(first, _SERIES_UID, "SeriesInstanceUID"),
            frame_text or None,
            raw_text(first, _STUDY_UID, "StudyInstanceUID"),
        )
    series_uid = series_uid_of(first)
    series = {series_uid_of(ds) for ds in datasets}
    if len(series) > 1:
        raise MixedSeriesError(f"Datasets belong to {len(series)} series: {sorted(series)}")
    frames = {ds.get("FrameOfReferenceUID") for ds in datasets}
    if len(frames) > 1:
        raise MixedSeriesError(
            f"Series {series_uid} mixes frames of reference: {sorted(str(f) for f in frames)}"
        )
    study_uid = str(first.get("StudyInstanceUID", ""))
    frame = first.get("FrameOfReferenceUID")
    return series_uid, (str(frame) if frame else None), study_uid


def _load_multiframe(ds: Dataset, series_uid: str) -> hd.Volume:
    try:
        image = hd.Image.from_dataset(ds, copy=False)
        volume = image.get_volume(dtype=np.float32)
    except Exception as exc:  # highdicom raises ValueError/RuntimeError/AttributeError
        raise InconsistentSpacingError(
            f"Multi-frame series {series_uid} is not a regularly spaced volume "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return volume


def load_series(datasets: Sequence[Dataset], *, sequence: MRSequence | None = None) -> SeriesVolume:
    """Build a ``SeriesVolume`` from the datasets of one series, in any order.

    Parameters
    ----------
    datasets:
        All instances of one series: single-frame images, or one enhanced
        multi-frame image.
    sequence:
        The sequence if already known; otherwise recognised from the attributes
        and the description (see :func:`dicom_conversion.recognise_series`).

    Returns
    -------
    SeriesVolume
        ``volume.array`` float32 (slices, rows, columns), rescale applied, slices
        stacked along the normal of ImageOrientationPatient; affine in LPS.

    Raises
    ------
    ConversionError
        A precise subclass naming the series: mixed series or orientations,
        mixed sizes, gaps, conflicting duplicates, irregular spacing, non-image
        instances or unreadable pixel data.
    """
    if not datasets:
        raise ConversionError("load_series needs at least one dataset")
    try:
        return _load_series(datasets, sequence)
    except ConversionError:
        raise
    except Exception as exc:  # corrupt values surface lazily from pydicom as many kinds
        raise CorruptDatasetError(
            f"Series {_safe_uid(datasets[0])} has corrupt attributes ({type(exc).__name__}: {exc})"
        ) from exc


def _safe_uid(ds: Dataset) -> str:
    try:
        return series_uid_of(ds)
    except Exception:  # the UID itself may be the corrupt element
        return "<unreadable SeriesInstanceUID>"


def _load_series(datasets: Sequence[Dataset], sequence: MRSequence | None) -> SeriesVolume:
    series_uid, frame_uid, study_uid = _check_same_series(datasets)
    description = series_description(datasets[0])
    if sequence is None:
        from dicom_conversion.recognition import recognise_series

        sequence = recognise_series(datasets[0]).sequence

    if len(datasets) == 1 and int(datasets[0].get("NumberOfFrames", 1) or 1) > 1:
        volume = _load_multiframe(datasets[0], series_uid)
    else:
        volume = _load_single_frames(datasets, series_uid, frame_uid)
    return SeriesVolume(
        volume=volume,
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
        frame_of_reference_uid=frame_uid,
        sequence=sequence,
        description=description,
    )


def _load_single_frames(
    datasets: Sequence[Dataset], series_uid: str, frame_uid: str | None
) -> hd.Volume:
    orientation, spacing, positions = slice_geometry(datasets, series_uid)
    row_dir, col_dir = orientation[:3], orientation[3:]
    # highdicom stacks (slices, rows, columns) right-handed: slices run along
    # column direction x row direction, i.e. against the usual row x column normal.
    normal = np.cross(col_dir, row_dir)
    norm = float(np.linalg.norm(normal))
    if norm < 0.5:
        raise NotAnImageError(f"Series {series_uid} has a degenerate ImageOrientationPatient")
    normal /= norm
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along = along[order]
    ordered = [datasets[i] for i in order]
    fast = decode_all_fast(ordered)
    if fast is None:
        array, slope, intercept = np.stack([decode_frame(ds) for ds in ordered]), 1.0, 0.0
    else:
        array, slope, intercept = fast
    kept, along = drop_duplicates(array, along, series_uid)
    positions = positions[order][kept]
    if len(kept) != len(ordered):
        array = array[kept]

    in_plane = positions - np.outer(along, normal)
    if np.abs(in_plane - in_plane[0]).max() > max(POSITION_TOL, 0.01 * float(spacing.min())):
        raise InconsistentSpacingError(
            f"Series {series_uid}: slices are not stacked along the slice normal "
            "(gantry tilt or mixed stacks)"
        )
    spacing_between_slices = slice_spacing(datasets[0], along, series_uid)
    geometry = hd.VolumeGeometry.from_attributes(
        image_position=positions[0].tolist(),
        image_orientation=orientation.tolist(),
        pixel_spacing=spacing.tolist(),
        spacing_between_slices=spacing_between_slices,
        number_of_frames=array.shape[0],
        rows=array.shape[1],
        columns=array.shape[2],
        coordinate_system="PATIENT",
        frame_of_reference_uid=frame_uid,
    )
    return _float_volume(array, slope, intercept, geometry.affine, frame_uid)


def _float_volume(
    stored: np.ndarray,
    slope: float,
    intercept: float,
    affine_lps: np.ndarray,
    frame_uid: str | None,
) -> hd.Volume:
    """A float32 Volume over ``stored`` (slices, rows, columns), rescale applied.

    The float32 copy is laid out C-contiguous in simcase's canonical (R, A, S)
    order and the Volume's array is a view of it in (slices, rows, columns)
    order, so that ``SeriesVolume.canonical()`` costs no further copy.
    """
    to_ras, from_ras = canonical_transforms(affine_lps_to_ras(affine_lps), stored.shape)
    canonical = np.empty(oriented_shape(stored.shape, to_ras), dtype=np.float32)
    view = apply_transform(stored, to_ras)
    if slope != 1.0:
        np.multiply(view, np.float32(slope), out=canonical, dtype=np.float32, casting="unsafe")
    else:
        np.copyto(canonical, view, casting="unsafe")
    if intercept != 0.0:
        canonical += np.float32(intercept)
    return hd.Volume(
        array=apply_transform(canonical, from_ras),
        affine=affine_lps,
        coordinate_system="PATIENT",
        frame_of_reference_uid=frame_uid,
    )
