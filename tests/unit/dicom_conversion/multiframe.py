"""Multi-frame MR for tests: Legacy Converted Enhanced MR (highdicom.legacy) from a
single-frame series, and Enhanced MR Image Storage with its timing and contrast where
the standard keeps them (functional groups, Contrast/Bolus Usage Sequence)."""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom import Dataset
from pydicom.uid import EnhancedMRImageStorage, generate_uid


def legacy_converted(series: Sequence[Dataset], series_number: int) -> Dataset:
    """The single-frame ``series`` as one Legacy Converted Enhanced MR image."""
    uid = str(series[0].SeriesInstanceUID)
    return hd.legacy.LegacyConvertedEnhancedMRImage(
        list(series),
        series_instance_uid=str(generate_uid(entropy_srcs=[uid, "legacy"])),
        series_number=series_number,
        sop_instance_uid=str(generate_uid(entropy_srcs=[uid, "legacy-sop"])),
        instance_number=1,
    )


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def enhanced_mr(
    series: Sequence[Dataset], series_number: int, *, administered: bool | None
) -> Dataset:
    """The single-frame ``series`` as an Enhanced MR image.

    Timing goes into the MR Timing and Related Parameters, MR Echo and MR Modifier
    functional groups; no contrast attribute stays at the top level. ``administered``
    True / False writes the agent in ContrastBolusAgentSequence and the Contrast/Bolus
    Usage functional group with ContrastBolusAgentAdministered YES / NO; None writes
    neither.
    """
    ds = legacy_converted(series, series_number)
    ds.SOPClassUID = EnhancedMRImageStorage
    ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    shared = ds.SharedFunctionalGroupsSequence[0]
    converted = shared.UnassignedSharedConvertedAttributesSequence[0]
    del shared.UnassignedSharedConvertedAttributesSequence
    for frame in ds.PerFrameFunctionalGroupsSequence:
        for keyword in (
            "UnassignedPerFrameConvertedAttributesSequence",
            "ConversionSourceAttributesSequence",
        ):
            if keyword in frame:
                delattr(frame, keyword)
    for keyword in ("ContrastBolusAgent", "ContrastBolusRoute", "ContrastBolusIngredient"):
        if keyword in ds:
            delattr(ds, keyword)
    timing = Dataset()
    timing.RepetitionTime = converted.RepetitionTime
    timing.FlipAngle = converted.FlipAngle
    timing.EchoTrainLength = converted.EchoTrainLength
    shared.MRTimingAndRelatedParametersSequence = [timing]
    echo = Dataset()
    echo.EffectiveEchoTime = converted.EchoTime
    shared.MREchoSequence = [echo]
    modifier = Dataset()
    inversion = converted.get("InversionTime")
    modifier.InversionRecovery = "YES" if inversion else "NO"
    if inversion:
        modifier.InversionTimes = [inversion]
    shared.MRModifierSequence = [modifier]
    if administered is not None:
        agent = _code("C-17800", "SRT", "Gadolinium")
        agent.ContrastBolusAgentNumber = 1
        agent.ContrastBolusAdministrationRouteSequence = [
            _code("G-D101", "SRT", "Intravenous route")
        ]
        ds.ContrastBolusAgentSequence = [agent]
        usage = Dataset()
        usage.ContrastBolusAgentNumber = 1
        usage.ContrastBolusAgentAdministered = "YES" if administered else "NO"
        shared.ContrastBolusUsageSequence = [usage]
    return ds
