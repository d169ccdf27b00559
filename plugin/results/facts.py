"""What the result objects are built from: facts about the query and the similar cases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dicom_conversion import SequenceDecision

__all__ = ["QueryFacts", "ResultHit", "sequence_decision_texts"]

_CONTRAST = {True: "post-contrast", False: "native", None: "silent"}


def sequence_decision_texts(decisions: Iterable[SequenceDecision]) -> tuple[str, ...]:
    """One line per series used: its sequence, what decided it, and the evidence.

    For T1 / T1C the line names the contrast rule (attributes, description or images),
    what the attributes and the description said, and the enhancement score when the
    images were compared, e.g. ``T1C <- 'T1 SE pre': contrast by images (attributes
    post-contrast, description native); ContrastBolusAgent 'Gadobutrol';
    post-contrast enhancement 1.912%``.
    """
    lines = []
    for d in decisions:
        if not d.selected:
            continue
        line = f"{d.sequence.value} <- {d.description or '(no description)'!r}: {d.source}"
        if d.contrast_rule:
            line += (
                f"; contrast by {d.contrast_rule} (attributes "
                f"{_CONTRAST[d.contrast_by_attributes]}, description "
                f"{_CONTRAST[d.contrast_by_description]})"
            )
        shown = [f"{name} {value}" for name, value in d.evidence if name != "description"]
        if shown:
            line += "; " + "; ".join(shown)
        lines.append(f"{line} [series {d.series_instance_uid}]")
    return tuple(lines)


@dataclass(frozen=True)
class QueryFacts:
    """What simcase found in the query study.

    Attributes
    ----------
    study_instance_uid
        The query study (results go into it).
    sequences_used
        Sequences that went into the search, e.g. ``["T1", "T1C", "T2", "FLAIR"]``.
    missing_sequences
        Sequences the study lacks.
    sequence_decisions
        One line per series used: which rule decided its sequence and on what
        evidence (:func:`sequence_decision_texts`).
    is_brain_mr
        ``False`` when the study is not a brain MR simcase can read.
    tumour_found
        ``False`` when no tumour was found.
    tumour_volume_ml
        Whole-tumour volume in millilitres.
    location
        Where the tumour is, in words (e.g. ``"left frontal"``).
    tumour_slice
        Index of the axial slice shown in the montage.
    reason
        Why there are no similar cases (not a brain MR, no tumour), in words.
    extra
        More query facts to list in the summary, name -> text.
    """

    study_instance_uid: str
    sequences_used: tuple[str, ...] = ()
    missing_sequences: tuple[str, ...] = ()
    sequence_decisions: tuple[str, ...] = ()
    is_brain_mr: bool = True
    tumour_found: bool = True
    tumour_volume_ml: float | None = None
    location: str | None = None
    tumour_slice: int | None = None
    reason: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def searchable(self) -> bool:
        """Whether similar cases can be shown (a brain MR with a tumour)."""
        return self.is_brain_mr and self.tumour_found


@dataclass(frozen=True)
class ResultHit:
    """One similar archive case, as shown to the radiologist.

    Only the pseudonymous ``case_id`` identifies the archive patient: no names, patient
    IDs, dates of birth or accession numbers ever reach a result object.
    """

    rank: int
    case_id: str
    diagnosis: str
    similarity: float
    tumour_volume_ml: float | None = None
    location: str | None = None
    study_instance_uid: str | None = None
