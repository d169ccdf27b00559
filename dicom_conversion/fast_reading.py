"""A fast reader for uncompressed little-endian DICOM Part 10 files.

pydicom's generic reader spends most of its time in Python per data element.
For the common case (Explicit or Implicit VR Little Endian, defined lengths at
the top level) this module walks the top-level elements with ``struct`` and
hands pydicom the same raw (lazily converted) elements its own reader would
build. Anything else falls back to ``pydicom.dcmread``; the resulting
``Dataset`` behaves the same either way.
"""

from __future__ import annotations

import struct
from collections.abc import MutableMapping
from pathlib import Path

from pydicom import Dataset, FileMetaDataset
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import VR

__all__ = ["read_dataset_bytes", "read_fast"]

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_KNOWN_VRS = frozenset(str(vr) for vr in VR)
_UNDEFINED = 0xFFFFFFFF
_HEADER = struct.Struct("<HH2sH")
_LONG_LENGTH = struct.Struct("<I")
_IMPLICIT_HEADER = struct.Struct("<HHI")


_Elements = MutableMapping[BaseTag, DataElement | RawDataElement]


class _NotFast(Exception):
    """The file needs pydicom's general reader."""


def _explicit(buffer: bytes, position: int, end: int, elements: _Elements) -> int:
    while position + 8 <= end:
        group, element, vr, short_length = _HEADER.unpack_from(buffer, position)
        if vr in _LONG_VRS:
            (length,) = _LONG_LENGTH.unpack_from(buffer, position + 8)
            start = position + 12
        else:
            length, start = short_length, position + 8
        if length == _UNDEFINED or start + length > len(buffer):
            raise _NotFast
        tag = BaseTag(group << 16 | element)
        elements[tag] = RawDataElement(
            tag, vr.decode("ascii"), length, buffer[start : start + length], start, False, True
        )
        position = start + length
    return position


def _read_meta(buffer: bytes) -> tuple[FileMetaDataset, int]:
    if len(buffer) < 144 or buffer[128:132] != b"DICM":
        raise _NotFast
    group, element, vr, _ = _HEADER.unpack_from(buffer, 132)
    if (group, element, vr) != (2, 0, b"UL"):
        raise _NotFast
    (group_length,) = struct.unpack_from("<I", buffer, 140)
    end = 144 + group_length
    elements: _Elements = {}
    _explicit(buffer, 132, end, elements)
    return FileMetaDataset(elements), end


def _implicit(buffer: bytes, position: int, elements: _Elements) -> None:
    end = len(buffer)
    while position + 8 <= end:
        group, element, length = _IMPLICIT_HEADER.unpack_from(buffer, position)
        start = position + 8
        if length == _UNDEFINED or start + length > end:
            raise _NotFast
        tag = BaseTag(group << 16 | element)
        elements[tag] = RawDataElement(
            tag, None, length, buffer[start : start + length], start, True, True
        )
        position = start + length


def read_dataset_bytes(buffer: bytes, *, implicit_vr: bool) -> Dataset | None:
    """A little-endian data set (no preamble or file meta, as it arrives in a C-STORE),
    or ``None`` when it needs pydicom's general reader (undefined lengths at the top
    level, lengths past the end)."""
    elements: _Elements = {}
    try:
        if implicit_vr:
            _implicit(buffer, 0, elements)
        elif _explicit(buffer, 0, len(buffer), elements) != len(buffer):
            return None
    except (_NotFast, struct.error, UnicodeDecodeError, ValueError):
        return None
    if not elements or any(e.VR is not None and e.VR not in _KNOWN_VRS for e in elements.values()):
        return None
    ds = Dataset(elements)
    ds.set_original_encoding(implicit_vr, True, None)
    return ds


def read_fast(path: Path) -> Dataset | None:
    """The dataset of ``path``, or ``None`` when the file needs the general reader."""
    buffer = path.read_bytes()
    try:
        meta, position = _read_meta(buffer)
        syntax = meta.get("TransferSyntaxUID")
        elements: _Elements = {}
        if syntax == ExplicitVRLittleEndian:
            _explicit(buffer, position, len(buffer), elements)
            implicit = False
        elif syntax == ImplicitVRLittleEndian:
            _implicit(buffer, position, elements)
            implicit = True
        else:
            return None
    except (_NotFast, struct.error, UnicodeDecodeError, ValueError):
        return None
    if not elements:
        return None
    ds = Dataset(elements)
    ds.file_meta = meta
    ds.set_original_encoding(implicit, True, None)
    return ds
