"""The Comprehensive SR: one container per similar case plus a summary container.

OHIF renders nested containers of TEXT and NUM items as readable nested text
(verified with OHIF 3.13), so the report keeps to CONTAINER, TEXT, NUM and UIDREF, plus
the one CODE item of TID 4019 (the algorithm family, shown by its meaning). OHIF prints a
NUM's unit by its code value: the similarity is a percentage (UCUM ``%``), never the
UCUM ``1`` that read as a stray "1" after the number. The machine-readable form of the
same list is the TID 1500 report of :mod:`plugin.results.similar_cases`.
"""

from __future__ import annotations

from collections.abc import Sequence

from highdicom.sr import (
    CodeContentItem,
    CodedConcept,
    ContainerContentItem,
    ContentItem,
    ContentSequence,
    NumContentItem,
    RelationshipTypeValues,
    TextContentItem,
    UIDRefContentItem,
)

from plugin.results import codes
from plugin.results.facts import QueryFacts, ResultHit
from plugin.results.montage import NOT_FOR_DIAGNOSTIC_USE

__all__ = [
    "ALGORITHM_NAME",
    "algorithm_items",
    "case_container",
    "no_result_content",
    "report_content",
    "similarity_percent",
    "summary_container",
]

#: TID 4019 Algorithm Name of the similar-case search in every result object.
ALGORITHM_NAME = "simcase similar-case search"

_CONTAINS = RelationshipTypeValues.CONTAINS


def _text(name: CodedConcept, value: str) -> TextContentItem:
    return TextContentItem(name=name, value=value[:1024], relationship_type=_CONTAINS)


def _num(name: CodedConcept, value: float, unit: CodedConcept) -> NumContentItem:
    return NumContentItem(
        name=name, value=round(float(value), 4), unit=unit, relationship_type=_CONTAINS
    )


def _container(
    name: CodedConcept, items: Sequence[ContentItem], *, root: bool = False
) -> ContainerContentItem:
    container = ContainerContentItem(name=name, relationship_type=None if root else _CONTAINS)
    container.ContentSequence = ContentSequence(list(items))
    return container


def similarity_percent(similarity: float) -> float:
    """Cosine similarity as the percentage the reports state (two decimals)."""
    return round(100.0 * float(similarity), 2)


def algorithm_items(model_version: str) -> list[ContentItem]:
    """TID 4019 Algorithm Identification (family, name, version) as CONTAINS items."""
    return [
        CodeContentItem(
            name=codes.ALGORITHM_FAMILY,
            value=codes.ALGORITHM_FAMILY_AI,
            relationship_type=_CONTAINS,
        ),
        _text(codes.ALGORITHM_NAME, ALGORITHM_NAME),
        _text(codes.ALGORITHM_VERSION, model_version[:64]),
    ]


def case_container(hit: ResultHit, *, diagnosis_in_title: bool = False) -> ContainerContentItem:
    """The container of one similar case."""
    items: list[ContentItem] = [
        _text(codes.CASE_ID, hit.case_id),
        _text(codes.DIAGNOSIS, hit.diagnosis),
        _num(codes.SIMILARITY, similarity_percent(hit.similarity), codes.PERCENT),
    ]
    if hit.tumour_volume_ml is not None:
        items.append(_num(codes.TUMOUR_VOLUME, hit.tumour_volume_ml, codes.ML))
    if hit.location:
        items.append(_text(codes.TUMOUR_LOCATION, hit.location))
    if hit.study_instance_uid:
        items.append(
            UIDRefContentItem(
                name=codes.STUDY_INSTANCE_UID,
                value=hit.study_instance_uid,
                relationship_type=_CONTAINS,
            )
        )
    name = codes.similar_case(hit.rank, hit.diagnosis if diagnosis_in_title else None)
    return _container(name, items)


def summary_container(
    query: QueryFacts, model_version: str, supersedes: str | None
) -> ContainerContentItem:
    """Model version, sequences used and missing, the query tumour's facts."""
    items: list[ContentItem] = [
        *algorithm_items(model_version),
        _text(codes.SEQUENCES_USED, ", ".join(query.sequences_used) or "none"),
        _text(codes.MISSING_SEQUENCES, ", ".join(query.missing_sequences) or "none"),
        *(_text(codes.SEQUENCE_DECISION, line) for line in query.sequence_decisions),
    ]
    tumour: list[ContentItem] = []
    if query.tumour_volume_ml is not None:
        tumour.append(_num(codes.TUMOUR_VOLUME, query.tumour_volume_ml, codes.ML))
    if query.location:
        tumour.append(_text(codes.TUMOUR_LOCATION, query.location))
    if query.tumour_slice is not None:
        tumour.append(_text(codes.COMMENT, f"montage shows axial slice {query.tumour_slice}"))
    if tumour:
        items.append(_container(codes.QUERY_TUMOUR, tumour))
    items.extend(_text(codes.COMMENT, f"{name}: {value}") for name, value in query.extra)
    if supersedes:
        items.append(_text(codes.SUPERSEDES, supersedes))
    return _container(codes.SUMMARY, items)


def _disclaimer() -> TextContentItem:
    return _text(
        codes.DISCLAIMER,
        f"{NOT_FOR_DIAGNOSTIC_USE}. Research software: similar confirmed cases from the "
        "archive, identified by pseudonymous case ids only.",
    )


def report_content(
    query: QueryFacts,
    hits: Sequence[ResultHit],
    per_diagnosis: dict[str, list[ResultHit]] | None,
    model_version: str,
    supersedes: str | None,
) -> ContainerContentItem:
    """The root container of the full report."""
    items: list[ContentItem] = [_disclaimer()]
    items.extend(case_container(hit) for hit in hits)
    for diagnosis, group in (per_diagnosis or {}).items():
        if group:
            items.append(
                _container(
                    codes.diagnosis_group(diagnosis),
                    [case_container(h, diagnosis_in_title=True) for h in group],
                )
            )
    items.append(summary_container(query, model_version, supersedes))
    return _container(codes.REPORT_TITLE, items, root=True)


def no_result_content(
    query: QueryFacts, model_version: str, supersedes: str | None
) -> ContainerContentItem:
    """The root container of the short report: why there are no similar cases."""
    if query.reason:
        reason = query.reason
    elif not query.is_brain_mr:
        reason = "Not a brain MR study that simcase can read: no similar-case search was done."
    else:
        reason = "No tumour found in this study: no similar cases to show."
    items: list[ContentItem] = [
        _disclaimer(),
        _text(codes.RESULT, reason),
        summary_container(query, model_version, supersedes),
    ]
    return _container(codes.REPORT_TITLE, items, root=True)
