"""An archive folder's ``cases.csv``, read line by line so that every problem names its
file and line: the whole file is refused when it cannot be used at all (not UTF-8 CSV,
no header, no ``case_id`` or ``diagnosis`` column, 0 cases); a line that is malformed
(more or fewer cells than the header, no case id or no diagnosis) is reported by its
number and its case is not indexed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import IndexerError
from models.corpus import CaseRecord, case_record

__all__ = [
    "ARCHIVE_COLUMNS",
    "LABEL_KEYS",
    "CasesCsv",
    "CsvLines",
    "ListedCase",
    "MalformedLine",
    "read_cases_file",
    "read_labels_file",
]

#: The columns an archive's ``cases.csv`` must have; any other column is optional.
ARCHIVE_COLUMNS = ("case_id", "diagnosis")

#: The columns that key a labels CSV's rows to studies (at least one is needed).
LABEL_KEYS = ("study_instance_uid", "accession_number")

#: Largest ``cases.csv`` read (a million cases is about 60 MiB).
MAX_CSV_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ListedCase:
    """A well-formed data line: its number (the header is line 1) and its case."""

    line: int
    record: CaseRecord


@dataclass(frozen=True)
class MalformedLine:
    """A data line that names no usable case: its number, its case id (``"?"`` when
    none) and what is wrong with it."""

    line: int
    case_id: str
    problem: str


@dataclass(frozen=True)
class CsvLines:
    """The well-formed lines of a CSV (number, cells by column name) and its malformed
    lines, in file order."""

    path: Path
    rows: list[tuple[int, dict[str, str]]]
    malformed: list[MalformedLine]


@dataclass(frozen=True)
class CasesCsv:
    """The cases of one ``cases.csv`` and its malformed lines, in file order."""

    path: Path
    cases: list[ListedCase]
    malformed: list[MalformedLine]


def _text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise IndexerError(f"{path} is larger than {MAX_CSV_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise IndexerError(f"{path} cannot be read: {exc.strerror}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise IndexerError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x});"
            " save the file as UTF-8 CSV"
        ) from exc


@dataclass(frozen=True)
class _Columns:
    """What a CSV's header must name: every column of ``required`` and at least one of
    ``one_of``; ``expected`` shows the columns in messages."""

    required: tuple[str, ...]
    one_of: tuple[str, ...]
    expected: str


_CASES = _Columns(ARCHIVE_COLUMNS, (), "case_id,diagnosis[,patient_id,age,sex,...]")
_LABELS = _Columns(
    ("diagnosis",),
    LABEL_KEYS,
    "study_instance_uid or accession_number,diagnosis[,case_id,patient_id,age,sex]",
)


def _header(
    path: Path, reader: Iterator[list[str]], line: Callable[[], int], columns: _Columns
) -> list[str]:
    try:
        names = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise IndexerError(f"{path}, line {line()}: not CSV: {exc}") from exc
    if not any(names):
        raise IndexerError(
            f"{path} is empty: 0 cases (the first line must name the columns {columns.expected})"
        )
    missing = [column for column in columns.required if column not in names]
    if columns.one_of and not set(columns.one_of) & set(names):
        missing.append(" or ".join(columns.one_of))
    if missing:
        shown = ",".join(names)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise IndexerError(
            f"{path}, line 1: no column {' or '.join(missing)} in the header"
            f" ({shown}); expected {columns.expected}"
        )
    return names


def _problem(names: list[str], cells: list[str], columns: _Columns) -> str | None:
    if len(cells) != len(names):
        return f"{len(cells)} cells, the header has {len(names)}"
    row = dict(zip(names, cells, strict=True))
    missing = [column for column in columns.required if not row[column].strip()]
    if columns.one_of and not any(row.get(key, "").strip() for key in columns.one_of):
        missing.append(" and no ".join(columns.one_of))
    if missing:
        return f"no {' and no '.join(missing)}"
    return None


def _read_lines(path: Path, columns: _Columns, key: str) -> CsvLines:
    """The well-formed lines of ``path`` as rows by column name, and its malformed lines
    (named by their ``key`` cell); lines whose cells are all blank are ignored."""
    reader = csv.reader(io.StringIO(_text(path), newline=""), strict=True)
    names = _header(path, reader, lambda: reader.line_num, columns)
    rows: list[tuple[int, dict[str, str]]] = []
    malformed: list[MalformedLine] = []
    line = reader.line_num
    try:
        for cells in reader:
            first, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            problem = _problem(names, cells, columns)
            if problem is None:
                rows.append((first, dict(zip(names, cells, strict=True))))
                continue
            at = names.index(key) if key in names else len(cells)
            value = cells[at].strip() if at < len(cells) else ""
            malformed.append(MalformedLine(first, value[:128] or "?", problem))
    except csv.Error as exc:
        raise IndexerError(f"{path}, line {reader.line_num}: not CSV: {exc}") from exc
    if not rows and not malformed:
        raise IndexerError(f"{path} lists 0 cases (a header and no case line)")
    return CsvLines(path, rows, malformed)


def read_cases_file(path: Path) -> CasesCsv:
    """The cases listed in ``path`` (an archive folder's ``cases.csv``).

    Lines whose cells are all blank are ignored, as spreadsheets write them.

    Raises:
        IndexerError: naming the file, and the line where there is one, when the file
            cannot be read, is not UTF-8 CSV, has no header or no ``case_id`` or
            ``diagnosis`` column, or lists 0 cases.
    """
    lines = _read_lines(path, _CASES, "case_id")
    cases = [ListedCase(line, case_record({**row})) for line, row in lines.rows]
    return CasesCsv(path, cases, lines.malformed)


def read_labels_file(path: Path) -> CsvLines:
    """The rows of a labels CSV (``simcase index --labels``) by line, keyed by
    ``study_instance_uid`` or ``accession_number``, read like :func:`read_cases_file`.

    A line is malformed when it has more or fewer cells than the header, no diagnosis,
    or neither key.

    Raises:
        IndexerError: as :func:`read_cases_file`, naming the file and line.
    """
    return _read_lines(path, _LABELS, LABEL_KEYS[0])
