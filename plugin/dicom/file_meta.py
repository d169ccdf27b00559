"""The DICOM file header (preamble and File Meta Information) of a received instance.

The same elements pynetdicom's ``Event.encoded_dataset()`` writes, encoded directly
(Explicit VR Little Endian, PS3.10 section 7.1) instead of through a pydicom dataset:
about a tenth of the cost, paid once per received instance.
"""

from __future__ import annotations

import struct

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

__all__ = ["file_header"]

_PREAMBLE = b"\x00" * 128 + b"DICM"


def _short(element: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def _uid(element: int, uid: str) -> bytes:
    raw = uid.encode("ascii")
    return _short(element, b"UI", raw + b"\x00" * (len(raw) % 2))


def _text(element: int, vr: bytes, text: str) -> bytes:
    raw = text.encode("ascii")
    return _short(element, vr, raw + b" " * (len(raw) % 2))


def file_header(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> bytes:
    """Preamble, ``DICM`` and the File Meta Information group for one instance.

    Raises
    ------
    UnicodeEncodeError
        A UID that is not ASCII (the caller refuses such an instance).
    """
    body = b"".join(
        (
            struct.pack("<HH2sHI", 0x0002, 0x0001, b"OB", 0, 2) + b"\x00\x01",
            _uid(0x0002, sop_class_uid),
            _uid(0x0003, sop_instance_uid),
            _uid(0x0010, transfer_syntax_uid),
            _uid(0x0012, PYNETDICOM_IMPLEMENTATION_UID),
            _text(0x0013, b"SH", PYNETDICOM_IMPLEMENTATION_VERSION),
        )
    )
    return _PREAMBLE + struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body)) + body
