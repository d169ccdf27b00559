"""discover_brats on hostile folders: a case id is a folder name inside the root, never
a path that leaves it (``..``, absolute, too long for the file system), a case folder or
file that is a link leaving the root is skipped, and a ``cases.csv`` that is not UTF-8
CSV is an :class:`IndexerError` (the CLI's one-line error), never a traceback.

Found by tests/integration/plugin/test_malformed_uploads_at_scale.py: before, the case
id ``../outside`` indexed the folder beside the root, a 300-character id crashed
``simcase index`` (OSError: file name too long), and a Latin-1 or binary ``cases.csv``
crashed it with a UnicodeDecodeError (a huge cell with a csv.Error).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.bulk import ImportSummary, discover_brats
from indexer.errors import IndexerError


def _root(tmp_path: Path, rows: list[str]) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "cases.csv").write_text("case_id,diagnosis\n" + "".join(f"{r},glioma\n" for r in rows))
    return root


def test_case_ids_that_leave_the_folder_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "outside-t1n.nii.gz").write_bytes(b"x")
    ids = ["../outside", str(tmp_path / "outside"), "..", ".", "a\\b", "x" * 300, '"c\td"']
    root = _root(tmp_path, ids)
    summary = ImportSummary()
    assert discover_brats(root, summary) == []
    reasons = dict(summary.skipped)
    assert len(summary.skipped) == len(ids)
    assert reasons["../outside"] == "case_id is not a folder name of at most 128 characters"
    assert reasons["x" * 128] == "case_id is not a folder name of at most 128 characters"


def test_links_leaving_the_folder_are_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.nii.gz").write_bytes(b"x")
    root = _root(tmp_path, ["linked", "file-linked", "inner-link", "plain"])
    (root / "linked").symlink_to(outside, target_is_directory=True)
    (root / "file-linked").mkdir()
    (root / "file-linked" / "file-linked-t1n.nii.gz").symlink_to(outside / "secret.nii.gz")
    (root / "plain").mkdir()
    (root / "inner-link").symlink_to(root / "plain", target_is_directory=True)
    summary = ImportSummary()
    found = discover_brats(root, summary)
    assert [s.case_id for s in found] == ["inner-link", "plain"]  # a link inside is fine
    assert dict(summary.skipped) == {
        "linked": "linked is a link leaving the folder",
        "file-linked": "file-linked/file-linked-t1n.nii.gz is a link leaving the folder",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("case_id,diagnosis\nc\xe9,glioma\n".encode("latin-1"), "line 2: not UTF-8"),
        (bytes(range(256)), "line 2: not UTF-8"),  # 0x80 follows the first newline (0x0a)
        ("case_id,diagnosis\nc1,glioma\n".encode("utf-16"), "line 1: not UTF-8"),
        (b"case_id,diagnosis\n" + b"c" * 200_000 + b",glioma\n", "line 2: not CSV: field larger"),
    ],
    ids=["latin-1", "binary", "utf-16", "huge-cell"],
)
def test_a_cases_csv_that_is_not_utf8_csv_is_an_indexer_error_naming_the_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    (tmp_path / "cases.csv").write_bytes(content)
    with pytest.raises(IndexerError, match=re.escape(f"cases.csv, {expected}")):
        discover_brats(tmp_path, ImportSummary())
