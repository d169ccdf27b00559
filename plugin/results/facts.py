"""What the result objects are built from: facts about the query and the similar cases."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["QueryFacts", "ResultHit"]


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
