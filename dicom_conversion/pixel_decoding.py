"""The stored pixels of MR images as numbers.

Uncompressed little-endian pixel data is read straight from the bytes with
``np.frombuffer`` (one frame, or every frame of a series at once when their raw pixel
attributes agree); anything else decodes through pydicom's pixel plugins (pylibjpeg:
JPEG, JPEG-LS, JPEG 2000, RLE).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dicom_conversion.errors import NotAnImageError, PixelDataError
from dicom_conversion.raw_elements import is_raw, raw_text, raw_values, uniform_raw

__all__ = ["decode_all_fast", "decode_frame", "series_uid_of"]

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


def series_uid_of(ds: Dataset) -> str:
    """The instance's SeriesInstanceUID for messages (a placeholder when it has none)."""
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
    series_uid = series_uid_of(ds)
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


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    return raw_text(meta, 0x00020010, "TransferSyntaxUID") if meta is not None else ""


def decode_all_fast(ordered: Sequence[Dataset]) -> tuple[np.ndarray, float, float] | None:
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
