"""The sequence-recognition rules, as data a site can extend.

Description rules are regular expressions matched (case-insensitively, with
``_`` and ``/`` read as spaces) against SeriesDescription and ProtocolName as
Siemens, GE, Philips and Canon write them. The first matching rule of each kind
wins; site rules (from configuration) are tried before the defaults.

Kinds:

- ``exclude``: not a structural sequence (localizer, diffusion, perfusion, ...):
  the series is ``OTHER``.
- ``derived``: a reformat / projection of another series; kept, but never picked
  when an original of the same sequence exists.
- ``weighting``: the contrast (``T1``, ``T2`` or ``FLAIR``).
- ``post`` / ``pre``: post-contrast or explicitly native (turns T1 into T1C or not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dicom_conversion.sequences import MRSequence

__all__ = ["DescriptionRule", "RecognitionRules", "default_rules"]

_KINDS = ("exclude", "derived", "weighting", "post", "pre")


@dataclass(frozen=True)
class DescriptionRule:
    """One regular expression on the series description, and what it means."""

    pattern: str
    kind: str
    sequence: MRSequence | None = None
    name: str = ""

    __module__ = "dicom_conversion"

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Rule {self.pattern!r}: kind must be one of {_KINDS}")
        if self.kind == "weighting" and self.sequence not in (
            MRSequence.T1,
            MRSequence.T2,
            MRSequence.FLAIR,
        ):
            raise ValueError(f"Rule {self.pattern!r}: a weighting rule needs T1, T2 or FLAIR")
        re.compile(self.pattern)

    def search(self, text: str) -> bool:
        """True when the pattern matches the normalised description."""
        return re.search(self.pattern, text, flags=re.IGNORECASE) is not None

    @property
    def label(self) -> str:
        """The name of the rule for reasons (its pattern when unnamed)."""
        return self.name or self.pattern


_DEFAULT_RULES: tuple[DescriptionRule, ...] = (
    # Not structural: localizers, diffusion, perfusion, susceptibility, angiography...
    DescriptionRule(
        r"locali[sz]er|\blocator\b|\bloc\b|scout|survey|3[- ]?pl(ane)?\b|aahead|aascout",
        "exclude",
        name="localizer",
    ),
    DescriptionRule(
        r"calibration|asset cal|\bcal\b|sense ?ref|coil ?ref|prescan", "exclude", name="calibration"
    ),
    DescriptionRule(
        r"\bdwi\b|diff|\bdti\b|\btrace\b|\badc\b|\bep2d diff|\bb ?\d{3,4}\b|\bfa\b|"
        r"tensor|\bewi\b",
        "exclude",
        name="diffusion",
    ),
    DescriptionRule(
        r"perf|\bdsc\b|\bdce\b|\basl\b|pcasl|\bbolus\b|\brcbv\b|\bcbf\b",
        "exclude",
        name="perfusion",
    ),
    DescriptionRule(
        r"\bswi|\bswan\b|\bsw[ip]?\b|t2 ?\*|t2 ?star|\bhemo|\bffe ?t2|\bt2w? ?ffe\b|\bminip\b|"
        r"\bpha(se)?\b|\bmag(nitude)?\b",
        "exclude",
        name="susceptibility / T2*",
    ),
    DescriptionRule(r"\btof\b|\bmra\b|angio|\bpc\b|venogra|\bmrv\b", "exclude", name="angiography"),
    DescriptionRule(
        r"\bbold\b|fmri|resting|spectro|\bsvs\b|\bcsi\b|\bmrs\b|\bpress\b",
        "exclude",
        name="functional / spectroscopy",
    ),
    DescriptionRule(r"\bsub(traction)?\b|\bdiff?erence\b", "exclude", name="subtraction"),
    DescriptionRule(r"\bpd\b|proton ?density", "exclude", name="proton density"),
    # Derived series of a structural sequence.
    DescriptionRule(
        r"\bmprs?\b|reformat|\bmip\b|\brecon\b|\brfmt\b",
        "derived",
        name="reformat",
    ),
    # Weighting. T1-weighted FLAIR (GE "T1 FLAIR") is T1, so T1 rules come first.
    DescriptionRule(
        r"\bt1 ?flair\b|\bflair ?t1\b|\bt1 ?fl\b",
        "weighting",
        MRSequence.T1,
        name="T1-weighted FLAIR",
    ),
    DescriptionRule(
        r"flair|\btirm\b|dark[- ]?fluid|\bda[- ]?fl\b|\bfl ?t2\b|\bt2 ?fl\b|\bfluid ?att",
        "weighting",
        MRSequence.FLAIR,
        name="FLAIR",
    ),
    DescriptionRule(
        r"\bt2\b|t2w|t2 ?tse|\bt2 ?fse|\bt2 ?space|\bt2 ?propeller|\bt2 ?blade|"
        r"\bcube ?t2|\bt2 ?frfse|\bfrfse\b|\bssfse\b|\bhaste\b",
        "weighting",
        MRSequence.T2,
        name="T2",
    ),
    DescriptionRule(
        r"\bt1\b|t1w|t1 ?(se|tse|fse|ffe|tfe|gre|mprage|space|vibe|flash|spgr)|"
        r"mp ?rage|\bmpr?ag|\bspgr\b|\bfspgr\b|\bbravo\b|\btfe\b|\bflash\b|\bvibe\b|"
        r"\bcube ?t1|\bt1 ?cube|\bisofse\b|\b3d ?t1|\bffe\b|\bthrive\b|\bvista t1|"
        r"\bfast ?spgr|\bmp2rage\b|\bsag t1\b",
        "weighting",
        MRSequence.T1,
        name="T1",
    ),
    # Contrast.
    DescriptionRule(
        r"\bpre\b|\bpre ?(con|contrast|gd|gad)|\bnativ|\bnon ?con|\bw/?o\b|"
        r"\bwithout\b|\bplain\b|\bnc\b",
        "pre",
        name="pre-contrast",
    ),
    DescriptionRule(
        r"\+ ?c\b|\+ ?gd|\+ ?gad|\+ ?km|\+ ?contrast|\bc\+|\bpost|\bgad|\bgd\b|"
        r"\bgado|contrast|\bce\b|\bt1ce\b|\bt1c\b|\bkm\b|\bmdc\b|\bw ?con|"
        # "enhanced" but not highdicom's legacy-conversion suffix "(enhanced conversion)".
        r"\benh(?!anced conversion)|"
        r"\bw/ ?c\b|\bwith ?con|\bdotarem|\bgadovist|\bmultihance|\bprohance|"
        r"\bmagnevist|\bclariscan|_ce\b|\bce$",
        "post",
        name="post-contrast",
    ),
)


def default_rules() -> tuple[DescriptionRule, ...]:
    """The built-in description rules (Siemens, GE, Philips and Canon habits)."""
    return _DEFAULT_RULES


@dataclass(frozen=True)
class RecognitionRules:
    """Description rules plus the attribute thresholds (milliseconds).

    Build a site's rules with :meth:`from_config`; site rules take precedence.
    """

    description_rules: tuple[DescriptionRule, ...] = field(default_factory=default_rules)
    flair_min_inversion_ms: float = 1500.0
    t2_min_echo_ms: float = 60.0
    t2_min_repetition_ms: float = 1500.0
    t1_max_echo_ms: float = 30.0
    t1_max_repetition_ms: float = 1000.0
    t1_inversion_range_ms: tuple[float, float] = (300.0, 1400.0)

    __module__ = "dicom_conversion"

    def of_kind(self, kind: str) -> Iterable[DescriptionRule]:
        """The rules of one kind, in precedence order."""
        return (rule for rule in self.description_rules if rule.kind == kind)

    def extended(self, rules: Sequence[DescriptionRule]) -> RecognitionRules:
        """A copy whose description rules are ``rules`` followed by these ones."""
        return RecognitionRules(
            description_rules=(*rules, *self.description_rules),
            flair_min_inversion_ms=self.flair_min_inversion_ms,
            t2_min_echo_ms=self.t2_min_echo_ms,
            t2_min_repetition_ms=self.t2_min_repetition_ms,
            t1_max_echo_ms=self.t1_max_echo_ms,
            t1_max_repetition_ms=self.t1_max_repetition_ms,
            t1_inversion_range_ms=self.t1_inversion_range_ms,
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RecognitionRules:
        """Rules from a configuration mapping (e.g. a TOML table).

        ``{"description_rules": [{"pattern": "AXIAL_T1_POST", "kind": "post"},
        {"pattern": "MYT2", "kind": "weighting", "sequence": "T2"}],
        "flair_min_inversion_ms": 1400}``
        """
        extra = tuple(
            DescriptionRule(
                pattern=str(item["pattern"]),
                kind=str(item["kind"]),
                sequence=MRSequence(item["sequence"]) if item.get("sequence") else None,
                name=str(item.get("name", "")),
            )
            for item in config.get("description_rules", [])
        )
        base = cls()
        thresholds = {
            key: config[key]
            for key in (
                "flair_min_inversion_ms",
                "t2_min_echo_ms",
                "t2_min_repetition_ms",
                "t1_max_echo_ms",
                "t1_max_repetition_ms",
            )
            if key in config
        }
        merged = base.extended(extra)
        if not thresholds:
            return merged
        return RecognitionRules(
            description_rules=merged.description_rules,
            t1_inversion_range_ms=merged.t1_inversion_range_ms,
            **{k: float(v) for k, v in thresholds.items()},
        )
