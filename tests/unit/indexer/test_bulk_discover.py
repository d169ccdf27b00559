"""discover_brats: the bulk import reads cases.csv through models.corpus, skipping what it
cannot index."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.bulk import CaseSource, ImportSummary, discover_brats
from indexer.errors import IndexerError


def test_rows_become_case_sources_and_incomplete_rows_are_skipped(tmp_path: Path) -> None:
    for case in ("c1", "c2"):
        (tmp_path / case).mkdir()
    (tmp_path / "cases.csv").write_text(
        "case_id,diagnosis,patient_id,age,sex,site\n"
        "c1, Meningioma ,p1,61,m,north\n"
        "c2,glioma,,,,\n"
        ",glioma,p3,,,\n"
        "c4,,p4,,,\n"
        "c5,glioma,p5,,,\n"
    )
    summary = ImportSummary()
    found = discover_brats(tmp_path, summary)
    assert found == [
        CaseSource(
            case_id="c1",
            uri=str((tmp_path / "c1").resolve()),
            diagnosis="meningioma",
            patient_id="p1",
            age=61,
            sex="M",
            source="brats",
            metadata={"site": "north"},
        ),
        CaseSource(
            case_id="c2",
            uri=str((tmp_path / "c2").resolve()),
            diagnosis="glioma",
            source="brats",
        ),
    ]
    assert summary.skipped == [
        ("?", "cases.csv line 4: no case_id"),
        ("c4", "cases.csv line 5: no diagnosis"),
        ("c5", "no folder c5 beside cases.csv"),
    ]
    assert summary.malformed_lines == [4, 5]


def test_a_folder_without_cases_csv_is_an_indexer_error(tmp_path: Path) -> None:
    with pytest.raises(IndexerError, match=r"has no cases\.csv"):
        discover_brats(tmp_path, ImportSummary())
