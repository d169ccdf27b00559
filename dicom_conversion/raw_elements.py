"""Reading attribute values straight from pydicom's raw (not yet converted) elements.

pydicom converts an element's bytes to a Python value on first access, which is
most of the cost of loading a large series. When the same attribute has the
same bytes in every instance, it only needs converting once; these helpers let
the loaders check that without converting anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom import Dataset
from pydicom.dataelem import RawDataElement

__all__ = ["is_raw", "raw_text", "raw_value", "raw_values", "uniform_raw"]

_CONVERTED = object()


def raw_value(ds: Dataset, tag: int) -> bytes | object | None:
    """The undecoded little-endian bytes of ``tag``; ``None`` if absent.

    Returns the module's ``_CONVERTED`` sentinel when the element exists but is
    not raw (already converted, big endian or deferred).
    """
    if tag not in ds:
        return None
    element = ds.get_item(tag, keep_deferred=True)
    if isinstance(element, RawDataElement) and element.is_little_endian:
        if element.value is None:
            return _CONVERTED
        return bytes(element.value)
    return _CONVERTED


def raw_values(datasets: Sequence[Dataset], tag: int) -> list[bytes | None] | None:
    """The raw bytes of ``tag`` in every dataset, or ``None`` if any is not raw."""
    out: list[bytes | None] = []
    for ds in datasets:
        value = raw_value(ds, tag)
        if value is _CONVERTED:
            return None
        out.append(value)  # type: ignore[arg-type]
    return out


def uniform_raw(datasets: Sequence[Dataset], tag: int) -> bytes | object | None:
    """The raw bytes shared by every dataset; ``_CONVERTED`` when not raw or not uniform."""
    values = raw_values(datasets, tag)
    if values is None or len(set(values)) != 1:
        return _CONVERTED
    return values[0]


def is_raw(value: bytes | object | None) -> bool:
    """True when a ``raw_value``/``uniform_raw`` result holds usable bytes (or absence)."""
    return value is not _CONVERTED


def raw_text(ds: Dataset, tag: int, keyword: str) -> str:
    """A short text attribute (UI, CS, LO) without converting the element."""
    value = raw_value(ds, tag)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    return str(ds.get(keyword, "") or "")
