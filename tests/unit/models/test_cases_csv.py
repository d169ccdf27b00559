"""read_cases_csv: the one reader of a labelled folder's cases.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.corpus import CaseRecord, read_cases_csv
from models.errors import TrainingDataError


def _write(folder: Path, text: str) -> Path:
    (folder / "cases.csv").write_text(text)
    return folder


def test_rows_are_read_with_the_patient_defaulting_to_the_case(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "case_id,diagnosis,patient_id,age,sex,site\n"
        " c1 , Glioma ,p1,42,female,north\n"
        "c2,metastasis,,x,,\n",
    )
    first, second = read_cases_csv(tmp_path)
    assert first == CaseRecord("c1", "glioma", "p1", age=42, sex="F")
    assert first.metadata == {"site": "north"}
    assert first.patient_listed
    assert second == CaseRecord("c2", "metastasis", "c2", patient_listed=False)
    assert second.metadata == {}


def test_reading_wants_the_training_columns_and_a_case(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=r"has no cases\.csv"):
        read_cases_csv(tmp_path)
    _write(tmp_path, "case_id,diagnosis\nc1,glioma\n")
    with pytest.raises(TrainingDataError, match="lacks the column"):
        read_cases_csv(tmp_path)
    _write(tmp_path, "case_id,diagnosis,patient_id\n")
    with pytest.raises(TrainingDataError, match="lists no case"):
        read_cases_csv(tmp_path)
