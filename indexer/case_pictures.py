"""An archive case as the search page shows it beside the query: facts and three planes.

The images are not stored: the case is read again from its source (the BraTS folder or
DICOM study it was indexed from) and masked the way it was indexed (its own mask when it
came with one, else the segmenter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import class_row

from dicom_conversion import StudyVolumes
from indexer.bulk import load_source
from indexer.case_images import case_images
from indexer.cases import StoredCase, get_case
from indexer.errors import CaseNotFoundError, IndexerError
from indexer.pipeline import CaseSegmenter
from indexer.store._cases import outlines, save_outline
from indexer.thumbnails import tumour_outline_png

__all__ = ["ArchiveCase", "archive_case", "archive_case_outline", "archive_case_pictures"]


@dataclass(frozen=True)
class ArchiveCase:
    """A case's record and where its images are."""

    record: StoredCase
    source_uri: str | None
    given_mask: bool


@dataclass(frozen=True)
class _Source:
    source_uri: str | None
    given_mask: bool


def archive_case(conn: psycopg.Connection[Any], case_id: str) -> ArchiveCase:
    """The case's record and source; :class:`CaseNotFoundError` when there is none."""
    record = get_case(conn, case_id)
    with conn.cursor(row_factory=class_row(_Source)) as cur:
        row = cur.execute(
            "SELECT source_uri, given_mask FROM cases WHERE case_id = %s", (case_id,)
        ).fetchone()
    if record is None or row is None:
        raise CaseNotFoundError(f"no archive case {case_id!r}")
    return ArchiveCase(record=record, source_uri=row.source_uri, given_mask=bool(row.given_mask))


def _study_and_mask(
    case: ArchiveCase, segmenter: CaseSegmenter
) -> tuple[StudyVolumes, np.ndarray, str]:
    """The case read again from its source and masked the way it was indexed."""
    record = case.record
    if not case.source_uri:
        raise IndexerError(f"archive case {record.case_id!r} has no stored source")
    study = load_source(case.source_uri, record.study_instance_uid)
    given = study.mask is not None and bool(np.any(study.mask > 0))
    if case.given_mask and given:
        assert study.mask is not None
        return study, np.asarray(study.mask, dtype=np.uint8), "given"
    return study, np.asarray(segmenter.segment(study), dtype=np.uint8), "segmenter"


def archive_case_outline(
    conn: psycopg.Connection[Any], case: ArchiveCase, segmenter: CaseSegmenter
) -> bytes:
    """The tumour outline over the case's thumbnail (transparent PNG): the one kept at
    index time, or, for a case indexed before outlines were kept, drawn from its source
    (the same crop as its thumbnail) and kept.

    Raises
    ------
    IndexerError
        When none is kept and the case's source is unknown or can no longer be read.
    """
    kept = outlines(conn, [case.record.case_id])
    if kept:
        return kept[case.record.case_id]
    study, mask, _ = _study_and_mask(case, segmenter)
    outline = tumour_outline_png(study, mask)
    save_outline(conn, case.record.case_id, outline)
    return outline


def archive_case_pictures(case: ArchiveCase, segmenter: CaseSegmenter) -> dict[str, Any]:
    """JSON of the case's facts (never its patient id) and its three planes per sequence.

    Raises
    ------
    IndexerError
        When the case's source is unknown or can no longer be read.
    """
    record = case.record
    study, mask, mask_source = _study_and_mask(case, segmenter)
    return {
        "case_id": record.case_id,
        "diagnosis": record.diagnosis,
        "source": record.source,
        "study_instance_uid": record.study_instance_uid,
        "age": record.age,
        "sex": record.sex,
        "metadata": record.metadata,
        "tumour": record.tumour,
        "mask_source": mask_source,
        "sequences": [s.value for s in study.arrays],
        "missing_sequences": [s.value for s in study.missing],
        "images": case_images(study, mask).to_json(),
    }
