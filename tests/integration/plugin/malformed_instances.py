"""A generator of malformed MR instances, as a clumsy or hostile sender would send them.

Each variant is a whole DICOM file (valid File Meta Information, so a sender can send
its data set as is) made from one valid MR instance of its own study: attributes
deleted, values replaced by hostile ones (written without pydicom's validation), the
pixel data cut or padded, and the encoded bytes truncated or overwritten at
seeded random places. :func:`malformed_variants` returns at least 200 of them.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from io import BytesIO

from pydicom import Dataset, config
from pydicom.tag import Tag
from pydicom.uid import generate_uid

from tests.unit.plugin.samples import mr_series

__all__ = ["Variant", "malformed_variants"]

#: Attributes deleted one at a time.
DELETED = (
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
    "FrameOfReferenceUID", "Modality", "Rows", "Columns", "BitsAllocated", "BitsStored",
    "HighBit", "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation",
    "PixelData", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
    "SliceThickness", "SeriesDescription", "InstanceNumber", "StudyDate", "StudyTime",
    "PatientID", "PatientName", "SeriesNumber", "EchoTime", "RepetitionTime",
)  # fmt: skip

#: Hostile text values, each written into every attribute of :data:`TEXT_TARGETS`.
TEXT_VALUES = (
    "", " ", "nan", "inf", "-inf", "-1", "0", "1e308", "1\\2\\3\\4\\5\\6\\7", "../../../x",
    "/etc/passwd", "A" * 300, "1.2.3/../../x", "2026-01-02", "10:11:12", "\u00e9\u00e8",
    "\x00\x01", "1..2", "x\\y",
)  # fmt: skip
TEXT_TARGETS = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "StudyDate",
    "SpecificCharacterSet", "PhotometricInterpretation", "SeriesDescription",
)  # fmt: skip

#: Hostile values of the unsigned-short image attributes.
NUMBER_VALUES = (0, 1, 7, 65535)
NUMBER_TARGETS = ("Rows", "Columns", "BitsAllocated", "BitsStored", "SamplesPerPixel")


@dataclass(frozen=True)
class Variant:
    """One malformed instance: what was done, and the file's bytes."""

    name: str
    data: bytes


def _base() -> Dataset:
    return mr_series(1, study_uid=generate_uid())[0]


def _encode(ds: Dataset) -> bytes:
    if "PixelData" in ds:
        ds["PixelData"].VR = "OW"  # not left to BitsAllocated, which a variant may lack
    buffer = BytesIO()
    previous = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds.save_as(buffer, enforce_file_format=True)
    finally:
        config.settings.writing_validation_mode = previous
    return buffer.getvalue()


def _meta_end(data: bytes) -> int:
    """Where the data set starts (after the preamble and the group 0002 elements)."""
    return 132 + 12 + int.from_bytes(data[140:144], "little")


def _edited(name: str, edit: Callable[[Dataset], None]) -> Variant:
    ds = _base()
    edit(ds)
    return Variant(name, _encode(ds))


def _text_variant(keyword: str, value: str) -> Variant:
    """``value`` as the attribute's value; where pydicom refuses it for the VR (a DS that
    is no number), the encoded element's value bytes are replaced by it."""
    name = f"{keyword} = {value[:20]!r}"
    try:
        return _edited(name, lambda ds: setattr(ds, keyword, value))
    except (ValueError, TypeError, OverflowError):
        pass
    raw = value.encode("utf-8")
    raw += b" " * (len(raw) % 2)
    ds = _base()
    setattr(ds, keyword, "1" * len(raw) if raw else "")
    data = _encode(ds)
    element = ds[keyword]
    header = Tag(keyword).group.to_bytes(2, "little") + Tag(keyword).element.to_bytes(2, "little")
    at = data.index(header + element.VR.encode(), _meta_end(data))
    length = int.from_bytes(data[at + 6 : at + 8], "little")
    start = at + 8
    encoded = data[: at + 6] + len(raw).to_bytes(2, "little") + raw + data[start + length :]
    return Variant(name, encoded)


def _delete(ds: Dataset, keyword: str) -> None:
    delattr(ds, keyword)


def _assign(ds: Dataset, keyword: str, value: object) -> None:
    setattr(ds, keyword, value)


def _attribute_variants() -> Iterator[Variant]:
    for keyword in DELETED:
        yield _edited(f"without {keyword}", partial(_delete, keyword=keyword))
    for keyword in TEXT_TARGETS:
        for value in TEXT_VALUES:
            yield _text_variant(keyword, value)
    for keyword in NUMBER_TARGETS:
        for number in NUMBER_VALUES:
            yield _edited(f"{keyword} = {number}", partial(_assign, keyword=keyword, value=number))
    yield _edited("PixelData short", lambda ds: setattr(ds, "PixelData", ds.PixelData[:10]))
    yield _edited("PixelData long", lambda ds: setattr(ds, "PixelData", ds.PixelData * 3))
    yield _edited("PixelData odd length", lambda ds: setattr(ds, "PixelData", b"\x01" * 7))


def _byte_variants(rng: random.Random, count: int) -> Iterator[Variant]:
    for i in range(count):
        data = bytearray(_encode(_base()))
        start = _meta_end(bytes(data))
        if i % 3 == 0:  # truncated somewhere in the data set
            cut = rng.randrange(start + 1, len(data))
            yield Variant(f"truncated at {cut - start}", bytes(data[:cut]))
            continue
        # overwrite a few bytes of the data set (tags, VRs, lengths and values alike)
        for _ in range(1 + i % 4):
            at = rng.randrange(start, len(data))
            data[at] = rng.randrange(256)
        if i % 3 == 2:  # and a length field that claims far more than follows
            at = rng.randrange(start, min(len(data) - 4, start + 400))
            data[at : at + 4] = b"\xf0\xff\xff\x7f"
        yield Variant(f"bytes overwritten, seed step {i}", bytes(data))


def malformed_variants(seed: int = 15, byte_variants: int = 60) -> list[Variant]:
    """Every attribute variant, then ``byte_variants`` byte-level ones (seeded)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values, as it should
        return [*_attribute_variants(), *_byte_variants(random.Random(seed), byte_variants)]
