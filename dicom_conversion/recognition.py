"""Deciding T1 / T1C / T2 / FLAIR / other for a series from its DICOM header.

Timing and type attributes (read from the functional groups of multi-frame images by
:mod:`dicom_conversion.header_evidence`) and the description are read separately; when
they agree (or only one speaks) the decision is taken, when both are silent or they
disagree the pixels decide (:mod:`dicom_conversion.image_recognition`). For contrast
the attributes outrank the description; both claims stay on the decision for
:mod:`dicom_conversion.contrast_pairing`, which lets the images settle T1 vs T1C.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom import Dataset

from dicom_conversion.header_evidence import contrast_attributes, header_view
from dicom_conversion.recognition_rules import RecognitionRules
from dicom_conversion.sequences import MRSequence, SequenceDecision

__all__ = ["is_derived", "recognise_series"]

_DERIVED_TYPES = {"DERIVED", "SECONDARY"}
_DERIVED_VALUES = {"MPR", "REFORMATTED", "PROJECTION IMAGE", "MIP", "MNIP", "CPR", "SUBTRACT"}
_OTHER_VALUES = {
    "ADC": "ImageType ADC (diffusion map)",
    "TRACEW": "ImageType TRACEW (diffusion)",
    "DIFFUSION": "ImageType DIFFUSION",
    "FA": "ImageType FA (diffusion map)",
    "LOCALIZER": "ImageType LOCALIZER",
    "SCOUT": "ImageType SCOUT",
    "PERFUSION": "ImageType PERFUSION",
    "PHASE": "ImageType PHASE",
    "P": "ImageType P (phase)",
    "SWI": "ImageType SWI",
}


@dataclass(frozen=True)
class _Opinion:
    sequence: MRSequence | None
    reason: str


def _normalise(text: str) -> str:
    return re.sub(r"[_/\\]+", " ", text).strip()


def _description_text(ds: Dataset) -> str:
    parts = [str(ds.get("SeriesDescription") or ""), str(ds.get("ProtocolName") or "")]
    if parts[0] == parts[1]:
        parts = parts[:1]
    return _normalise(" ".join(p for p in parts if p))


def _image_type(ds: Dataset) -> list[str]:
    value = ds.get("ImageType") or []
    if isinstance(value, str):
        value = value.split("\\")
    return [str(v).upper() for v in value]


def _float(ds: Dataset, keyword: str) -> float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _multi(ds: Dataset, keyword: str) -> set[str]:
    value = ds.get(keyword) or []
    if isinstance(value, str):
        value = value.split("\\")
    return {str(v).upper().strip() for v in value}


def is_derived(ds: Dataset, rules: RecognitionRules | None = None) -> bool:
    """True for reformats, projections and other derived series."""
    rules = rules or RecognitionRules()
    image_type = _image_type(ds)
    if image_type and image_type[0] in _DERIVED_TYPES:
        return True
    if _DERIVED_VALUES.intersection(image_type):
        return True
    text = _description_text(ds)
    return any(rule.search(text) for rule in rules.of_kind("derived"))


def _exclusion(ds: Dataset, text: str, rules: RecognitionRules) -> str | None:
    values = _image_type(ds)[2:]
    for value, reason in _OTHER_VALUES.items():
        if value in values:
            return reason
    b_value = _float(ds, "DiffusionBValue")
    if b_value is not None and b_value > 0:
        return f"DiffusionBValue {b_value:g}"
    for rule in rules.of_kind("exclude"):
        if rule.search(text):
            return f"description matches {rule.label} rule"
    return None


@dataclass(frozen=True)
class _Contrast:
    post: bool | None
    reason: str
    by_attributes: bool | None
    by_description: bool | None
    evidence: tuple[tuple[str, str], ...]

    @property
    def rule(self) -> str:
        if self.by_attributes is not None:
            return "attributes"
        return "description" if self.by_description is not None else ""


def _state(post: bool | None) -> str:
    return "post-contrast" if post else "native"


def _contrast(ds: Dataset, text: str, rules: RecognitionRules) -> _Contrast:
    """Attributes first (they outrank the description), then the description."""
    by_attributes, evidence = contrast_attributes(ds)
    by_description: bool | None = None
    label = ""
    for kind, value in (("pre", False), ("post", True)):
        rule = next((r for r in rules.of_kind(kind) if r.search(text)), None)
        if rule is not None:
            by_description, label = value, rule.label
            break
    if by_description is not None:
        evidence = (*evidence, ("description", f"{label} ({text!r})"))
    if by_attributes is not None:
        named = "; ".join(f"{name} {value!r}" for name, value in evidence if name != "description")
        reason = f"attributes say {_state(by_attributes)} ({named})"
        if by_description is not None and by_description is not by_attributes:
            reason += f", outranking the description ({label})"
        return _Contrast(by_attributes, reason, by_attributes, by_description, evidence)
    if by_description is not None:
        return _Contrast(
            by_description, f"description says {label}", None, by_description, evidence
        )
    return _Contrast(None, "", None, None, evidence)


def _timing_evidence(ds: Dataset) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for keyword in ("EchoTime", "RepetitionTime", "InversionTime"):
        value = _float(ds, keyword)
        if value is not None:
            out.append((keyword, f"{value:g} ms"))
    for keyword in ("ScanningSequence", "SequenceVariant"):
        values = sorted(_multi(ds, keyword) - {""})
        if values:
            out.append((keyword, "\\".join(values)))
    return tuple(out)


def _from_description(text: str, rules: RecognitionRules) -> _Opinion:
    for rule in rules.of_kind("weighting"):
        if rule.search(text):
            return _Opinion(rule.sequence, f"description {text!r} matches {rule.label} rule")
    return _Opinion(None, "")


def _from_attributes(ds: Dataset, rules: RecognitionRules) -> _Opinion:
    te = _float(ds, "EchoTime")
    tr = _float(ds, "RepetitionTime")
    ti = _float(ds, "InversionTime")
    scanning = _multi(ds, "ScanningSequence")
    variant = _multi(ds, "SequenceVariant")
    inversion = "IR" in scanning or "MP" in variant or (ti is not None and ti > 0)
    if te is None and tr is None:
        return _Opinion(None, "")
    timing = f"TE {te:g} ms" if te is not None else "no TE"
    timing += f", TR {tr:g} ms" if tr is not None else ", no TR"
    if ti is not None and ti > 0:
        timing += f", TI {ti:g} ms"
    if "EP" in scanning and te is not None and te >= rules.t2_min_echo_ms and not ti:
        return _Opinion(MRSequence.OTHER, f"echo-planar with {timing} (diffusion/BOLD)")
    if ti is not None and ti >= rules.flair_min_inversion_ms and te is not None:
        if te >= rules.t2_min_echo_ms:
            return _Opinion(MRSequence.FLAIR, f"inversion recovery with long TI and TE ({timing})")
        return _Opinion(None, "")
    if te is not None and te >= rules.t2_min_echo_ms:
        if tr is None or tr >= rules.t2_min_repetition_ms:
            return _Opinion(MRSequence.T2, f"long TE and TR ({timing})")
        return _Opinion(None, "")
    if te is not None and te <= rules.t1_max_echo_ms:
        low, high = rules.t1_inversion_range_ms
        if inversion and ti is not None and low <= ti <= high:
            return _Opinion(MRSequence.T1, f"inversion-prepared with short TE and TI ({timing})")
        if tr is not None and tr <= rules.t1_max_repetition_ms:
            return _Opinion(MRSequence.T1, f"short TE and TR ({timing})")
        if tr is not None and not inversion:
            return _Opinion(MRSequence.OTHER, f"short TE with long TR: proton density ({timing})")
    return _Opinion(None, "")


def _with_contrast(sequence: MRSequence, post: bool | None) -> MRSequence:
    if sequence is MRSequence.T1 and post:
        return MRSequence.T1C
    return sequence


def recognise_series(ds: Dataset, rules: RecognitionRules | None = None) -> SequenceDecision:
    """Decide the sequence of the series ``ds`` (any one instance) belongs to.

    Parameters
    ----------
    ds:
        One instance of the series (header only is enough).
    rules:
        Description rules and thresholds; defaults to :class:`RecognitionRules`.

    Returns
    -------
    SequenceDecision
        With ``needs_image`` set when header and description were silent or
        disagreed; the sequence is then provisional (``OTHER`` or the header's
        opinion) until the image decides.
    """
    rules = rules or RecognitionRules()
    original, ds = ds, header_view(ds)
    uid = str(ds.get("SeriesInstanceUID", ""))
    description = str(ds.get("SeriesDescription") or ds.get("ProtocolName") or "")
    text = _description_text(ds)
    derived = is_derived(ds, rules)
    contrast = _contrast(original, text, rules)
    evidence = (*_timing_evidence(ds), *contrast.evidence)

    def decide(
        sequence: MRSequence, reason: str, source: str, *, needs_image: bool = False
    ) -> SequenceDecision:
        family = sequence in (MRSequence.T1, MRSequence.T1C)
        return SequenceDecision(
            series_instance_uid=uid,
            sequence=sequence,
            reason=reason + ("; derived series" if derived else ""),
            source=source,
            derived=derived,
            description=description,
            needs_image=needs_image,
            contrast_evidence=contrast.post is not None,
            contrast_by_attributes=contrast.by_attributes,
            contrast_by_description=contrast.by_description,
            contrast_rule=contrast.rule if family else "",
            evidence=evidence,
        )

    modality = str(ds.get("Modality", "MR"))
    if modality != "MR":
        return decide(MRSequence.OTHER, f"modality {modality}, not MR", "attributes")
    excluded = _exclusion(ds, text, rules)
    if excluded:
        return decide(MRSequence.OTHER, excluded, "attributes+description")

    post = contrast.post
    by_attr = _from_attributes(ds, rules)
    by_desc = _from_description(text, rules)
    contrast_note = f"; {contrast.reason}" if contrast.reason else ""
    if by_attr.sequence is MRSequence.OTHER:
        return decide(MRSequence.OTHER, by_attr.reason, "attributes")
    if by_attr.sequence and by_desc.sequence:
        if by_attr.sequence is by_desc.sequence:
            return decide(
                _with_contrast(by_attr.sequence, post),
                f"{by_attr.reason}; {by_desc.reason}{contrast_note}",
                "attributes+description",
            )
        return decide(
            _with_contrast(by_attr.sequence, post),
            f"attributes and description disagree: {by_attr.reason} but {by_desc.reason}"
            f"{contrast_note}",
            "attributes+description",
            needs_image=True,
        )
    if by_attr.sequence:
        return decide(
            _with_contrast(by_attr.sequence, post), f"{by_attr.reason}{contrast_note}", "attributes"
        )
    if by_desc.sequence:
        return decide(
            _with_contrast(by_desc.sequence, post),
            f"{by_desc.reason}{contrast_note}",
            "description",
        )
    return decide(
        MRSequence.OTHER,
        f"no usable timing attributes and no recognised description ({description!r})",
        "undecided",
        needs_image=True,
    )
