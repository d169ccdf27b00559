"""What an instance needs to be usable, checked at the door and again before processing.

:func:`instance_problem` names the first reason an instance cannot be used (identifying
UIDs missing or not UIDs, an unknown character set, an empty image, non-finite
geometry), or ``None``. The listener refuses such an instance with a DIMSE failure
status; ``process_study`` skips it (an instance may also reach processing by DICOMweb)
and names it in the report. Dates and times in ISO form (``2026-01-02``,
``10:11:12``), a small deviation many senders make, are repaired by :func:`repair_dates`
instead of refused; values beyond repair are dropped.
"""

from __future__ import annotations

import math
import re
import struct
from functools import cache
from typing import Any

from pydicom import Dataset
from pydicom.charset import python_encoding
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.tag import BaseTag

from plugin.dicom.uids import is_dicom_uid

__all__ = [
    "REQUIRED_UIDS",
    "STUDY_TYPE2",
    "fill_study_attributes",
    "instance_problem",
    "repair_dates",
    "uid_text",
]

#: The UIDs every instance must carry in its data set.
REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")

#: Type 2 attributes of the Patient and General Study modules, which the result objects
#: copy from the query: present (empty when unknown) in every valid instance, but
#: missing from some that senders send, or dropped by :func:`repair_dates`.
STUDY_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "ReferringPhysicianName",
    "AccessionNumber",
)

_DATES = (
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "InstanceCreationDate",
    "PatientBirthDate",
)
_TIMES = ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "InstanceCreationTime")
_DA = re.compile(r"[0-9]{8}")
_ISO_DA = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TM = re.compile(r"[0-9]{2}([0-9]{2}([0-9]{2}(\.[0-9]{1,6})?)?)?")
_ISO_TM = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]{1,6})?)?")


@cache
def _tag(keyword: str) -> BaseTag:
    """The tag of a standard keyword, looked up once (pydicom looks a keyword up at every
    ``keyword in ds`` and ``ds[keyword]``: a third of the screening's time)."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"Argument 'keyword' must be a DICOM keyword, got {keyword!r}")
    return BaseTag(tag)


def _numbers(value: Any, n: int) -> list[float] | None:
    """``n`` floats from a multi-valued element, or ``None`` when it has another shape."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return None
    values = list(value)
    if len(values) != n:
        return None
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _decimals(ds: Dataset, keyword: str, n: int) -> list[float] | None:
    """``n`` floats of a DS element; an element pydicom has not converted yet is read
    from its bytes (pydicom's DS conversion, with validation, is most of the checks'
    time at the door)."""
    element = ds.get_item(_tag(keyword), keep_deferred=True)
    raw = element.value if isinstance(element, RawDataElement) else None
    if isinstance(element, RawDataElement) and element.VR in (None, "DS") and raw is not None:
        try:
            parts = bytes(raw).decode("ascii").strip(" \x00").split("\\")
            numbers = [float(p) for p in parts]
        except ValueError:  # UnicodeDecodeError included
            return None
        return numbers if len(numbers) == n else None
    return _numbers(ds[_tag(keyword)].value, n)


def uid_text(ds: Dataset, keyword: str) -> str:
    """A UI element's value without its padding (``""`` when absent or empty); one not
    converted by pydicom yet is read from its bytes (no UID object, no validation)."""
    tag = _tag(keyword)
    if tag not in ds:
        return ""
    element = ds.get_item(tag, keep_deferred=True)
    if isinstance(element, RawDataElement) and element.VR in (None, "UI"):
        return bytes(element.value or b"").decode("latin-1").strip(" \x00")
    return str(ds[tag].value or "").strip()


def _unsigned_short(ds: Dataset, keyword: str) -> Any:
    """A US element's value; one not converted by pydicom yet is read from its two bytes,
    so that it stays raw for the series loader's one-pass pixel decoding
    (:func:`dicom_conversion.pixel_decoding.decode_all_fast` needs every instance's pixel
    attributes unconverted)."""
    element = ds.get_item(_tag(keyword), keep_deferred=True)
    if (
        isinstance(element, RawDataElement)
        and element.VR in (None, "US")
        and element.is_little_endian
        and element.value is not None
        and len(element.value) == 2
    ):
        return struct.unpack("<H", bytes(element.value))[0]
    return ds.get(keyword)


def _conformant_raw(ds: Dataset, keyword: str, conformant: re.Pattern[str]) -> bool:
    """Whether ``keyword`` is still pydicom's raw bytes and holds an empty or conformant
    value, decided without converting it (converting eleven dates and times of each of
    620 instances was most of the screening's time)."""
    element = ds.get_item(_tag(keyword), keep_deferred=True)
    if not isinstance(element, RawDataElement) or element.value is None:
        return False
    try:
        text = bytes(element.value).decode("ascii").strip()
    except UnicodeDecodeError:
        return False
    return not text or conformant.fullmatch(text) is not None


def _geometry_problem(ds: Dataset) -> str | None:
    orientation: list[float] | None = None  # ImageOrientationPatient
    for keyword, n in (("ImagePositionPatient", 3), ("ImageOrientationPatient", 6)):
        if _tag(keyword) in ds:
            numbers = _decimals(ds, keyword, n)
            if numbers is None or not all(math.isfinite(x) for x in numbers):
                return f"{keyword} is not {n} finite numbers"
            orientation = numbers if n == 6 else None
    if orientation is not None:
        row = orientation
        if math.hypot(*row[:3]) < 1e-3 or math.hypot(*row[3:]) < 1e-3:
            return "ImageOrientationPatient is degenerate"
    if _tag("PixelSpacing") in ds:
        spacing = _decimals(ds, "PixelSpacing", 2)
        if spacing is None or not all(math.isfinite(x) and x > 0 for x in spacing):
            return "PixelSpacing is not two finite positive numbers"
    return None


def instance_problem(ds: Dataset) -> str | None:
    """Why ``ds`` cannot be used, in a few words, or ``None`` when it can.

    Never raises: a value that pydicom cannot even decode is itself the problem.
    """
    keyword = "data set"
    try:
        for keyword in REQUIRED_UIDS:
            uid = uid_text(ds, keyword)
            if not uid:
                return f"no {keyword}"
            if not is_dicom_uid(uid):
                return f"{keyword} is not a DICOM UID"
        keyword = "SpecificCharacterSet"
        charsets = ds.get(keyword)
        if charsets:
            names = [charsets] if isinstance(charsets, str) else list(charsets)
            unknown = [c for c in names if c and str(c).strip() not in python_encoding]
            if unknown:
                return f"unknown SpecificCharacterSet {str(unknown[0])[:16]!r}"
        if _tag("PixelData") in ds or _tag("Rows") in ds:
            for keyword in ("Rows", "Columns"):
                value = _unsigned_short(ds, keyword) if _tag(keyword) in ds else None
                if not isinstance(value, int) or value <= 0:
                    return f"{keyword} is {value!r}: no image"
        keyword = "geometry"
        return _geometry_problem(ds)
    except Exception as exc:  # corrupt values surface lazily from pydicom as many kinds
        return f"unreadable {keyword} ({type(exc).__name__})"


def repair_dates(ds: Dataset) -> list[str]:
    """Rewrite ISO dates and times of ``ds`` in DICOM form; drop values beyond repair.

    Returns the keywords that were changed.
    """
    changed: list[str] = []
    rules: tuple[tuple[tuple[str, ...], re.Pattern[str], re.Pattern[str]], ...] = (
        (_DATES, _DA, _ISO_DA),
        (_TIMES, _TM, _ISO_TM),
    )
    for keywords, conformant, iso in rules:
        for keyword in keywords:
            tag = _tag(keyword)
            if tag not in ds or _conformant_raw(ds, keyword, conformant):
                continue
            try:
                value = str(ds[tag].value or "").strip()
            except Exception:
                value = "\x00"
            if not value or conformant.fullmatch(value):
                continue
            match = iso.fullmatch(value)
            if match:
                ds[tag].value = "".join(g or "" for g in match.groups())
            else:
                del ds[tag]
            changed.append(keyword)
    return changed


def fill_study_attributes(ds: Dataset) -> list[str]:
    """Add the :data:`STUDY_TYPE2` attributes ``ds`` lacks, empty (as DICOM allows for
    Type 2), and drop a SpecificCharacterSet that is one blank value (the default
    repertoire), so the result objects can be built from ``ds``.

    Returns the keywords that were changed.
    """
    changed: list[str] = []
    for keyword in STUDY_TYPE2:
        if _tag(keyword) not in ds:
            setattr(ds, keyword, "")
            changed.append(keyword)
    charsets = ds.get("SpecificCharacterSet")
    blank = isinstance(charsets, str | None) and not (charsets or "").strip()
    if _tag("SpecificCharacterSet") in ds and blank:
        del ds.SpecificCharacterSet
        changed.append("SpecificCharacterSet")
    return changed
