"""The MR sequences simcase works with, and the record of how one was recognised."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MRSequence", "SequenceDecision"]

_BRATS_SUFFIX = {"T1": "t1n", "T1C": "t1c", "T2": "t2w", "FLAIR": "t2f"}


class MRSequence(StrEnum):
    """An MR contrast. ``ordered()`` is the channel order everywhere in simcase."""

    T1 = "T1"
    T1C = "T1C"
    T2 = "T2"
    FLAIR = "FLAIR"
    OTHER = "OTHER"

    __module__ = "dicom_conversion"

    @property
    def brats_suffix(self) -> str:
        """The BraTS 2023 file suffix (``t1n``, ``t1c``, ``t2w``, ``t2f``).

        Raises
        ------
        ValueError
            For :attr:`MRSequence.OTHER`, which has no BraTS file.
        """
        try:
            return _BRATS_SUFFIX[self.value]
        except KeyError:
            raise ValueError(f"MRSequence.{self.name} has no BraTS file suffix") from None

    @classmethod
    def ordered(cls) -> list[MRSequence]:
        """The four usable sequences in channel order: T1, T1C, T2, FLAIR."""
        return [cls.T1, cls.T1C, cls.T2, cls.FLAIR]


@dataclass(frozen=True)
class SequenceDecision:
    """Which sequence a series was taken to be, and why.

    Attributes
    ----------
    series_instance_uid:
        The series decided on.
    sequence:
        The sequence decided (``OTHER`` for series simcase does not use).
    reason:
        A human-readable reason, for the log and ``simcase convert --json``.
    source:
        ``"attributes"``, ``"description"``, ``"attributes+description"`` or ``"image"``.
    derived:
        True for derived series (reformats, maps, localizers, projections).
    selected:
        True when ``load_study`` used this series for its sequence.
    description:
        The SeriesDescription (or ProtocolName) of the series.
    needs_image:
        True when attributes and description were missing or disagreed, so the
        pixels must decide (``load_study`` does).
    contrast_evidence:
        True when an attribute or the description said pre- or post-contrast.
    contrast_by_attributes, contrast_by_description:
        What the contrast attributes (ContrastBolusAgent, the Contrast/Bolus Usage
        Sequence, ContrastBolusAgentSequence, ContrastBolusIngredient) and the
        description keywords said: True post-contrast, False native, None silent.
    contrast_rule:
        For T1 / T1C, what decided pre- or post-contrast: ``"attributes"`` (they outrank
        the description), ``"description"``, ``"images"`` (post-contrast enhancement
        against the pre-contrast series) or ``""`` (nothing said).
    enhancement_percent:
        For T1 / T1C series compared by their images, the per cent of the head far
        brighter than in the pre-contrast reference series (0 for the reference;
        :func:`dicom_conversion.image_recognition.enhancement_against`).
    evidence:
        The attributes read, ``(name, value)``: timing, contrast attributes, the
        description's contrast keyword.
    """

    series_instance_uid: str
    sequence: MRSequence
    reason: str
    source: str
    derived: bool = False
    selected: bool = False
    description: str = ""
    needs_image: bool = False
    contrast_evidence: bool = False
    contrast_by_attributes: bool | None = None
    contrast_by_description: bool | None = None
    contrast_rule: str = ""
    enhancement_percent: float | None = None
    evidence: tuple[tuple[str, str], ...] = ()

    __module__ = "dicom_conversion"

    @property
    def contrast_conflict(self) -> bool:
        """True when the contrast attributes and the description disagree."""
        return (
            self.contrast_by_attributes is not None
            and self.contrast_by_description is not None
            and self.contrast_by_attributes is not self.contrast_by_description
        )

    @property
    def image_based(self) -> bool:
        """True when the decision was taken from the pixels."""
        return self.source == "image"
