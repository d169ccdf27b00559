"""The acquisition and contrast attributes of a series, wherever its SOP class keeps them.

Single-frame MR images carry EchoTime, RepetitionTime, InversionTime, ScanningSequence,
SequenceVariant and ContrastBolusAgent at the top level. An Enhanced MR image keeps the
timing in functional groups (MR Echo: EffectiveEchoTime; MR Timing and Related
Parameters: RepetitionTime; MR Modifier: InversionTimes), the contrast in the
Contrast/Bolus Usage functional group (0018,9341: ContrastBolusAgentAdministered) and
the agent in ContrastBolusAgentSequence (0018,0012). A Legacy Converted Enhanced MR
image keeps the single-frame attributes it could not place in the Unassigned Shared
(or Per-Frame) Converted Attributes sequences. :func:`header_view` gathers them into one
flat dataset for :mod:`dicom_conversion.recognition`; :func:`contrast_attributes` says
what the attributes (never the description) say about contrast.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydicom import Dataset
from pydicom.multival import MultiValue

__all__ = ["ContrastAttributes", "contrast_attributes", "header_view"]

_NO_AGENT = {"", "NONE", "NO", "N/A", "NA", "0", "NIL", "NOT APPLICABLE", "WITHOUT"}
_FLAT = (
    "EchoTime",
    "RepetitionTime",
    "InversionTime",
    "ScanningSequence",
    "SequenceVariant",
    "ContrastBolusAgent",
    "ContrastBolusIngredient",
    "DiffusionBValue",
)
# Enhanced MR functional groups: (group sequence, attribute) -> the flat keyword.
_GROUPED = (
    ("MREchoSequence", "EffectiveEchoTime", "EchoTime"),
    ("MRTimingAndRelatedParametersSequence", "RepetitionTime", "RepetitionTime"),
    ("MRModifierSequence", "InversionTimes", "InversionTime"),
    ("MRDiffusionSequence", "DiffusionBValue", "DiffusionBValue"),
)
_CONVERTED = (
    "UnassignedSharedConvertedAttributesSequence",
    "UnassignedPerFrameConvertedAttributesSequence",
)


ContrastAttributes = tuple[bool | None, tuple[tuple[str, str], ...]]


def _first_item(ds: Dataset, keyword: str) -> Dataset | None:
    value = ds.get(keyword)
    if not value:
        return None
    item = value[0]
    return item if isinstance(item, Dataset) else None


def _frame_groups(ds: Dataset) -> Iterator[Dataset]:
    """The shared functional groups, then those of the first frame."""
    for keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        item = _first_item(ds, keyword)
        if item is not None:
            yield item


def _nested(groups: Dataset) -> Iterator[Dataset]:
    """``groups`` itself and the converted-attribute items of a legacy conversion."""
    yield groups
    for keyword in _CONVERTED:
        item = _first_item(groups, keyword)
        if item is not None:
            yield item


def _grouped_value(groups: Dataset, sequence: str, keyword: str) -> object:
    item = _first_item(groups, sequence)
    if item is None or keyword not in item:
        return None
    value = item.get(keyword)
    if isinstance(value, list | tuple | MultiValue):
        return value[0] if len(value) else None
    return value


def header_view(ds: Dataset) -> Dataset:
    """``ds``, or for a multi-frame image a copy with its timing and contrast on top.

    Only values absent from the top level are filled in; nothing is removed. The copy
    shares no pixel data with ``ds`` (only header elements are copied).
    """
    groups = list(_frame_groups(ds))
    if not groups:
        return ds
    view = Dataset()
    for element in ds:
        if element.keyword not in (
            "PixelData",
            "PerFrameFunctionalGroupsSequence",
            "SharedFunctionalGroupsSequence",
        ):
            view.add(element)
    for group in groups:
        for sequence, keyword, flat in _GROUPED:
            value = _grouped_value(group, sequence, keyword)
            if value not in (None, "") and view.get(flat) in (None, ""):
                setattr(view, flat, value)
        for item in _nested(group):
            for keyword in _FLAT:
                if keyword in item and view.get(keyword) in (None, ""):
                    setattr(view, keyword, item.get(keyword))
    return view


def _usage(ds: Dataset) -> tuple[bool | None, str]:
    """What the Contrast/Bolus Usage functional group says: administered or not."""
    for group in _frame_groups(ds):
        for usage in group.get("ContrastBolusUsageSequence") or []:
            administered = str(usage.get("ContrastBolusAgentAdministered", "") or "").upper()
            if administered in ("YES", "NO"):
                number = usage.get("ContrastBolusAgentNumber", "?")
                return administered == "YES", f"agent {number} administered {administered}"
    return None, ""


def _agent_codes(ds: Dataset) -> str:
    items = ds.get("ContrastBolusAgentSequence") or []
    meanings = [str(item.get("CodeMeaning") or item.get("CodeValue") or "") for item in items]
    return ", ".join(m for m in meanings if m)


def contrast_attributes(ds: Dataset) -> ContrastAttributes:
    """Post-contrast (True), native (False) or silent (None), and the attributes read.

    Only attributes count, in this order: the Contrast/Bolus Usage Sequence
    (0018,9341) of an enhanced image (administered YES or NO), ContrastBolusAgent,
    ContrastBolusAgentSequence (0018,0012), ContrastBolusIngredient. A value that means
    "none" (``NONE``, ``NO``, ``N/A``...) is read as silent, not as native.
    """
    view = header_view(ds)
    evidence: list[tuple[str, str]] = []
    administered, usage = _usage(ds)
    if usage:
        evidence.append(("ContrastBolusUsageSequence", usage))
    agent = str(view.get("ContrastBolusAgent", "") or "").strip()
    if agent.upper() not in _NO_AGENT:
        evidence.append(("ContrastBolusAgent", agent))
    coded = _agent_codes(ds)
    if coded:
        evidence.append(("ContrastBolusAgentSequence", coded))
    ingredient = str(view.get("ContrastBolusIngredient", "") or "").strip()
    if ingredient.upper() not in _NO_AGENT:
        evidence.append(("ContrastBolusIngredient", ingredient))
    if administered is not None:
        return administered, tuple(evidence)
    return (True if evidence else None), tuple(evidence)
