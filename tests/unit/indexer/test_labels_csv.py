"""The labels CSV of ``simcase index TREE --labels``, read line by line like
``cases.csv`` (``indexer.cases_csv``): a file that cannot be used is one line naming it
and the line, exit 1; a malformed line is skipped by its number (issue 15, bad input)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.case_discovery import ImportSummary, discover_dicom
from indexer.cases_csv import MalformedLine, read_labels_file
from indexer.errors import IndexerError
from plugin.cli import app
from plugin.settings import get_settings
from tests.unit.plugin.samples import mr_series


def _tree(tmp_path: Path, studies: int) -> tuple[Path, list[str]]:
    """A folder of ``studies`` one-series DICOM studies; their StudyInstanceUIDs."""
    root = tmp_path / "tree"
    uids = []
    for s in range(studies):
        series = mr_series(2, seed=s)
        folder = root / f"study{s}"
        folder.mkdir(parents=True)
        for i, ds in enumerate(series):
            ds.save_as(folder / f"{i}.dcm", enforce_file_format=True)
        uids.append(str(series[0].StudyInstanceUID))
    return root, uids


def _labels(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "labels.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"study_instance_uid,diagnosis\n1.2.3,glioma\n1.2.4,gli\xf6ma\n", "line 3: not UTF-8"),
        ("study_instance_uid,diagnosis\n", "lists 0 cases"),
        ("", "is empty: 0 cases"),
        ("uid,diagnosis\n1.2.3,glioma\n", "line 1: no column study_instance_uid or accession"),
        ("study_instance_uid,dx\n1.2.3,glioma\n", "line 1: no column diagnosis in the header"),
        ('study_instance_uid,diagnosis\n1.2.3,glioma\n"1.2.4,glioma\n', "line 3: not CSV"),
    ],
    ids=["latin-1", "header-only", "empty", "no-key", "no-diagnosis", "open-quote"],
)
def test_a_labels_file_that_cannot_be_used_is_an_error_naming_file_and_line(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    path = _labels(tmp_path, content)
    with pytest.raises(IndexerError) as raised:
        read_labels_file(path)
    assert str(raised.value).startswith(str(path))
    assert expected in str(raised.value)


def test_malformed_label_lines_are_skipped_by_number_and_the_rest_label_studies(
    tmp_path: Path,
) -> None:
    root, (first, second, third) = _tree(tmp_path, 3)
    labels = _labels(
        tmp_path,
        "\ufeffstudy_instance_uid,accession_number,diagnosis,case_id\r\n"
        f"{first},,glioma,c1\r\n"
        f"{second},,metastasis\r\n"  # one cell short
        ",,glioma,c3\r\n"  # neither key
        ",,,\r\n"  # blank: ignored
        f"{third},,,c4\r\n",  # no diagnosis
    )
    assert read_labels_file(labels).malformed == [
        MalformedLine(3, second, "3 cells, the header has 4"),
        MalformedLine(4, "?", "no study_instance_uid and no accession_number"),
        MalformedLine(6, third, "no diagnosis"),
    ]
    summary = ImportSummary()
    found = discover_dicom(root, summary, labels)
    assert [(s.case_id, s.diagnosis) for s in found] == [("c1", "glioma")]
    assert summary.malformed_lines == [3, 4, 6]
    assert summary.malformed_file == labels
    assert ("?", "labels.csv line 4: no study_instance_uid and no accession_number") in (
        summary.skipped
    )


@pytest.mark.parametrize(
    "content",
    [b"study_instance_uid,diagnosis\n1.2.3,glioma\n1.2.4,gli\xf6ma\n", b"uid;diagnosis\n"],
    ids=["latin-1", "no-key"],
)
def test_simcase_index_with_unusable_labels_says_so_in_one_line_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    root, _ = _tree(tmp_path, 1)
    labels = _labels(tmp_path, content)
    monkeypatch.setenv("SIMCASE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["index", str(root), "--labels", str(labels)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("simcase: ")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"simcase: {labels}, line ")
