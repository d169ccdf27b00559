"""DICOM UIDs at the door: the one rule for what counts as a UID, and safe path names.

A UID (PS3.5 §9.1) is digits in dot-separated components, at most 64 characters.
Anything received from outside (a C-STORE data set, a URL, the Orthanc change feed) is
checked with :func:`is_dicom_uid` before use, and a value is never used as a path
component unless it passed: :func:`safe_component` turns anything else into a hash.
"""

from __future__ import annotations

import hashlib
import re

from plugin.errors import InvalidUidError

__all__ = ["UID_PATTERN", "is_dicom_uid", "require_uid", "safe_component"]

#: Digits in dot-separated components (leading zeros are tolerated, as most PACS do).
UID_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)*")
_MAX_LENGTH = 64


def is_dicom_uid(value: object) -> bool:
    """Whether ``value`` is a string of at most 64 characters matching ``UID_PATTERN``."""
    return (
        isinstance(value, str)
        and len(value) <= _MAX_LENGTH
        and UID_PATTERN.fullmatch(value) is not None
    )


def require_uid(value: object, name: str = "StudyInstanceUID") -> str:
    """Return ``value`` when it is a DICOM UID, else raise :class:`InvalidUidError`.

    The message names the attribute, never echoes the (possibly hostile) value in full.
    """
    if not is_dicom_uid(value):
        shown = repr(value)[:24] + ("..." if len(repr(value)) > 24 else "")
        raise InvalidUidError(f"{name} {shown} is not a DICOM UID (digits and dots, <= 64)")
    return str(value)


def safe_component(uid: str) -> str:
    """A file-name component for a UID: the UID itself when it is a conformant UID.

    Anything else (letters, separators, ``..``, over 64 characters) becomes ``x`` plus
    a hash of it, so no received value can reach outside its folder.
    """
    if is_dicom_uid(uid):
        return uid
    return "x" + hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:40]
