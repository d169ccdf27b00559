"""An archive's ``cases.csv``: what cannot be used at all is an error naming the file
and the line; a malformed line is reported by its number (issue 15, bad input)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.cases_csv import MalformedLine, read_cases_file
from indexer.errors import IndexerError


def _csv(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "cases.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("case_id,diagnosis\n", "cases.csv lists 0 cases"),
        ("case_id,diagnosis\n\n,,\n", "cases.csv lists 0 cases"),
        ("", "cases.csv is empty: 0 cases"),
        ("\n\n", "cases.csv is empty: 0 cases"),
        ("id,diagnosis\nc1,glioma\n", "cases.csv, line 1: no column case_id in the header"),
        (
            "case_id;diagnosis\nc1;glioma\n",
            "cases.csv, line 1: no column case_id or diagnosis in the header (case_id;diagnosis)",
        ),
        ('case_id,diagnosis\nc1,glioma\n"c2,glioma\n', "cases.csv, line 3: not CSV"),
        (b"case_id,diagnosis\nc1,glioma\nc2,gli\xf6ma\n", "cases.csv, line 3: not UTF-8"),
    ],
    ids=[
        "header-only",
        "header-and-blank",
        "empty",
        "blank",
        "no-case-id",
        "semicolons",
        "open-quote",
        "latin-1",
    ],
)
def test_a_file_that_cannot_be_used_is_an_error_naming_file_and_line(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    path = _csv(tmp_path, content)
    with pytest.raises(IndexerError, match=re.escape(expected)) as raised:
        read_cases_file(path)
    assert str(raised.value).startswith(str(path))


def test_malformed_lines_are_named_and_the_others_read(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "\ufeffcase_id, diagnosis ,age\r\n"  # a BOM and spaces around the names
        "c1,glioma,61\r\n"
        "\r\n"
        "c2,meningioma\r\n"  # a cell short
        '"c3","metastasis","7",x\r\n'  # a cell too many
        ",glioma,5\r\n"
        "c5, ,5\r\n"
        '"c6\nstill c6",glioma,40\r\n'  # a quoted newline: the line it starts on
        ",,\r\n"
        "c7,Glioma,\r\n",
    )
    listing = read_cases_file(path)
    assert [(c.line, c.record.case_id, c.record.diagnosis) for c in listing.cases] == [
        (2, "c1", "glioma"),
        (8, "c6\nstill c6", "glioma"),
        (11, "c7", "glioma"),
    ]
    assert listing.cases[0].record.age == 61
    assert listing.malformed == [
        MalformedLine(4, "c2", "2 cells, the header has 3"),
        MalformedLine(5, "c3", "4 cells, the header has 3"),
        MalformedLine(6, "?", "no case_id"),
        MalformedLine(7, "c5", "no diagnosis"),
    ]


def test_a_file_of_malformed_lines_only_is_read_not_refused(tmp_path: Path) -> None:
    listing = read_cases_file(_csv(tmp_path, "case_id,diagnosis\nc1\n"))
    assert listing.cases == []
    assert listing.malformed == [MalformedLine(2, "c1", "1 cells, the header has 2")]
