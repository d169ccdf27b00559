"""One DICOM MR series (single-frame or enhanced multi-frame) to a ``SeriesVolume``.

Geometry is checked loudly (orientation, sizes, gaps, spacing, duplicates) and
the volume is built as a ``highdicom.Volume`` in patient (LPS) coordinates.
Uncompressed little-endian pixel data is read straight from the bytes with
``np.frombuffer``; anything else decodes through pydicom's pixel plugins
(pylibjpeg: JPEG, JPEG-LS, JPEG 2000, RLE).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicom_conversion.errors import (
    ConflictingDuplicateSliceError,
    ConversionError,
    CorruptDatasetError,
    InconsistentSpacingError,
    MissingSliceError,
    MixedOrientationError,
    MixedSeriesError,
    MixedSizeError,
    NotAnImageError,
    PixelDataError,
)
from dicom_conversion.orientation import (
    affine_lps_to_ras,
    apply_transform,
    canonical_transforms,
    oriented_shape,
)
from dicom_conversion.raw_elements import is_raw, raw_text, raw_values, uniform_raw
from dicom_conversion.sequences import MRSequence
from dicom_conversion.volumes import SeriesVolume

__all__ = ["decode_frame", "load_series", "series_description"]

logger = logging.getLogger(__name__)

_SERIES_UID = 0x0020000E
_STUDY_UID = 0x0020000D
_FRAME_UID = 0x00200052
_ORIENTATION = 0x00200037
_POSITION = 0x00200032
_PIXEL_SPACING = 0x00280030
_ROWS = 0x00280010
_COLUMNS = 0x00280011
_PIXEL_DATA = 0x7FE00010
_MODALITY_LUT = 0x00283000
_PIXEL_TAGS = (
    _ROWS,
    _COLUMNS,
    0x00280002,  # SamplesPerPixel
    0x00280004,  # PhotometricInterpretation
    0x00280008,  # NumberOfFrames
    0x00280100,  # BitsAllocated
    0x00280101,  # BitsStored
    0x00280103,  # PixelRepresentation
    0x00281052,  # RescaleIntercept
    0x00281053,  # RescaleSlope
    _MODALITY_LUT,
)
_RAW_SYNTAXES = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
_ORIENTATION_TOL = 1e-4
_POSITION_TOL = 1e-2  # mm
_SPACING_RTOL = 0.01


def series_description(ds: Dataset) -> str:
    """SeriesDescription, else ProtocolName, else an empty string."""
    return str(ds.get("SeriesDescription") or ds.get("ProtocolName") or "")


def _uid(ds: Dataset) -> str:
    return str(ds.get("SeriesInstanceUID", "<no SeriesInstanceUID>"))


def decode_frame(ds: Dataset) -> np.ndarray:
    """The stored pixels of a single-frame grayscale image, as float32 with rescale applied.

    Raises
    ------
    NotAnImageError
        No pixel data, or not a single-sample image.
    PixelDataError
        Truncated, corrupt or undecodable pixel data.
    """
    series_uid = _uid(ds)
    sop_uid = ds.get("SOPInstanceUID", "<no SOPInstanceUID>")
    if "PixelData" not in ds:
        raise NotAnImageError(f"Instance {sop_uid} of series {series_uid} has no pixel data")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1))
        bits = int(ds.BitsAllocated)
        stored_bits = int(ds.get("BitsStored", bits))
        signed = int(ds.get("PixelRepresentation", 0)) == 1
    except (AttributeError, TypeError, ValueError) as exc:
        raise PixelDataError(
            f"Instance {sop_uid} of series {series_uid}: unreadable image pixel attributes ({exc})"
        ) from exc
    if samples != 1:
        raise NotAnImageError(
            f"Instance {sop_uid} of series {series_uid} has {samples} samples per pixel; "
            "an MR volume needs grayscale"
        )
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    frame: np.ndarray
    if (
        syntax in _RAW_SYNTAXES
        and bits in (8, 16, 32)
        and stored_bits == bits
        and frames == 1
        and ds.get("PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME2"
    ):
        dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}").newbyteorder("<")
        try:
            data = ds.PixelData
        except Exception as exc:
            raise PixelDataError(
                f"Instance {sop_uid} of series {series_uid}: pixel data unreadable ({exc})"
            ) from exc
        needed = rows * columns * dtype.itemsize
        if not isinstance(data, bytes | bytearray) or len(data) < needed:
            got = len(data) if isinstance(data, bytes | bytearray) else 0
            raise PixelDataError(
                f"Instance {sop_uid} of series {series_uid}: pixel data truncated "
                f"({got} of {needed} bytes)"
            )
        frame = np.frombuffer(data, dtype=dtype, count=rows * columns).reshape(rows, columns)
    else:
        try:
            frame = np.asarray(ds.pixel_array)
        except Exception as exc:  # decoders raise many kinds; all mean unreadable pixels
            raise PixelDataError(
                f"Instance {sop_uid} of series {series_uid}: cannot decode pixel data "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if frame.shape != (rows, columns):
            raise NotAnImageError(
                f"Instance {sop_uid} of series {series_uid}: pixel array of shape "
                f"{frame.shape}, expected one {rows}x{columns} frame"
            )
    out = frame.astype(np.float32)
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        out = float(2**stored_bits - 1 if not signed else 2 ** (stored_bits - 1) - 1) - out
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    return out


def _floats(ds: Dataset, keyword: str, n: int) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        raise NotAnImageError(
            f"Instance {ds.get('SOPInstanceUID', '?')} of series {_uid(ds)} has no {keyword}: "
            "not an image in patient coordinates"
        )
    try:
        arr = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NotAnImageError(
            f"Instance {ds.get('SOPInstanceUID', '?')} of series {_uid(ds)}: bad {keyword}"
        ) from exc
    if arr.shape != (n,):
        raise NotAnImageError(
            f"Instance {ds.get('SOPInstanceUID', '?')} of series {_uid(ds)}: {keyword} "
            f"has {arr.size} values, expected {n}"
        )
    return arr


def _check_same_series(datasets: Sequence[Dataset]) -> tuple[str, str | None, str]:
    first = datasets[0]
    if is_raw(uniform_raw(datasets, _SERIES_UID)) and is_raw(uniform_raw(datasets, _FRAME_UID)):
        frame_text = raw_text(first, _FRAME_UID, "FrameOfReferenceUID")
        return (
            raw_text(first, _SERIES_UID, "SeriesInstanceUID"),
            frame_text or None,
            raw_text(first, _STUDY_UID, "StudyInstanceUID"),
        )
    series_uid = _uid(first)
    series = {_uid(ds) for ds in datasets}
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
        return _uid(ds)
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


def _geometry(
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


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    return raw_text(meta, 0x00020010, "TransferSyntaxUID") if meta is not None else ""


def _decode_all_fast(ordered: Sequence[Dataset]) -> tuple[np.ndarray, float, float] | None:
    """All stored frames as one (n, rows, columns) integer array, plus rescale slope/intercept.

    Only when every instance is uncompressed little endian with the same raw
    pixel attributes; otherwise ``None`` (the per-frame path decides and names
    any problem).
    """
    shared = {tag: uniform_raw(ordered, tag) for tag in _PIXEL_TAGS}
    if not all(is_raw(v) for v in shared.values()) or shared[_MODALITY_LUT] is not None:
        return None
    syntaxes = {_transfer_syntax(ds) for ds in ordered}
    if len(syntaxes) != 1 or syntaxes.pop() not in _RAW_SYNTAXES:
        return None
    first = ordered[0]
    rows, columns = int(first.Rows), int(first.Columns)
    bits = int(first.BitsAllocated)
    if (
        int(first.get("SamplesPerPixel", 1)) != 1
        or bits not in (8, 16, 32)
        or int(first.get("BitsStored", bits)) != bits
        or int(first.get("NumberOfFrames", 1) or 1) != 1
        or first.get("PhotometricInterpretation", "MONOCHROME2") != "MONOCHROME2"
    ):
        return None
    signed = int(first.get("PixelRepresentation", 0)) == 1
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}").newbyteorder("<")
    count = rows * columns
    pixels = raw_values(ordered, _PIXEL_DATA)
    if pixels is None:
        return None
    out = np.empty((len(ordered), rows, columns), dtype=dtype.newbyteorder("="))
    flat = out.reshape(len(ordered), count)
    for index, data in enumerate(pixels):
        if data is None or len(data) < count * dtype.itemsize:
            return None
        flat[index] = np.frombuffer(data, dtype=dtype, count=count)
    slope = float(first.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(first.get("RescaleIntercept", 0.0) or 0.0)
    return out, slope, intercept


def _load_single_frames(
    datasets: Sequence[Dataset], series_uid: str, frame_uid: str | None
) -> hd.Volume:
    orientation, spacing, positions = _geometry(datasets, series_uid)
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
    fast = _decode_all_fast(ordered)
    if fast is None:
        array, slope, intercept = np.stack([decode_frame(ds) for ds in ordered]), 1.0, 0.0
    else:
        array, slope, intercept = fast
    kept, along = _drop_duplicates(array, along, series_uid)
    positions = positions[order][kept]
    if len(kept) != len(ordered):
        array = array[kept]

    in_plane = positions - np.outer(along, normal)
    if np.abs(in_plane - in_plane[0]).max() > max(_POSITION_TOL, 0.01 * float(spacing.min())):
        raise InconsistentSpacingError(
            f"Series {series_uid}: slices are not stacked along the slice normal "
            "(gantry tilt or mixed stacks)"
        )
    slice_spacing = _slice_spacing(datasets[0], along, series_uid)
    geometry = hd.VolumeGeometry.from_attributes(
        image_position=positions[0].tolist(),
        image_orientation=orientation.tolist(),
        pixel_spacing=spacing.tolist(),
        spacing_between_slices=slice_spacing,
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


def _drop_duplicates(
    frames: np.ndarray, along: np.ndarray, series_uid: str
) -> tuple[list[int], np.ndarray]:
    """Drop exact duplicate slices (same position and pixels); refuse conflicting ones."""
    kept = [0]
    for index in range(1, len(frames)):
        if abs(along[index] - along[kept[-1]]) <= _POSITION_TOL:
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


def _slice_spacing(first: Dataset, along: np.ndarray, series_uid: str) -> float:
    if along.size == 1:
        value = first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0
        return float(value)
    steps = np.diff(along)
    step = float(steps.min())
    if np.all(np.abs(steps - step) <= max(_POSITION_TOL, _SPACING_RTOL * step)):
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
