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

__all__ = ["ARCHIVE_COLUMNS", "CasesCsv", "ListedCase", "MalformedLine", "read_cases_file"]

#: The columns an archive's ``cases.csv`` must have; any other column is optional.
ARCHIVE_COLUMNS = ("case_id", "diagnosis")

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


def _header(path: Path, reader: Iterator[list[str]], line: Callable[[], int]) -> list[str]:
    try:
        names = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise IndexerError(f"{path}, line {line()}: not CSV: {exc}") from exc
    if not any(names):
        raise IndexerError(
            f"{path} is empty: 0 cases (the first line must name the columns"
            f" {','.join(ARCHIVE_COLUMNS)}[,patient_id,age,sex,...])"
        )
    missing = [column for column in ARCHIVE_COLUMNS if column not in names]
    if missing:
        shown = ",".join(names)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise IndexerError(
            f"{path}, line 1: no column {' or '.join(missing)} in the header"
            f" ({shown}); expected {','.join(ARCHIVE_COLUMNS)}[,patient_id,age,sex,...]"
        )
    return names


def _problem(names: list[str], cells: list[str]) -> str | None:
    if len(cells) != len(names):
        return f"{len(cells)} cells, the header has {len(names)}"
    row = dict(zip(names, cells, strict=True))
    missing = [column for column in ARCHIVE_COLUMNS if not row[column].strip()]
    if missing:
        return f"no {' and no '.join(missing)}"
    return None


def read_cases_file(path: Path) -> CasesCsv:
    """The cases listed in ``path`` (an archive folder's ``cases.csv``).

    Lines whose cells are all blank are ignored, as spreadsheets write them.

    Raises:
        IndexerError: naming the file, and the line where there is one, when the file
            cannot be read, is not UTF-8 CSV, has no header or no ``case_id`` or
            ``diagnosis`` column, or lists 0 cases.
    """
    reader = csv.reader(io.StringIO(_text(path), newline=""), strict=True)
    names = _header(path, reader, lambda: reader.line_num)
    cases: list[ListedCase] = []
    malformed: list[MalformedLine] = []
    line = reader.line_num
    try:
        for cells in reader:
            first, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            problem = _problem(names, cells)
            if problem is None:
                row: dict[str, str | None] = dict(zip(names, cells, strict=True))
                cases.append(ListedCase(first, case_record(row)))
                continue
            at = names.index("case_id")
            case_id = cells[at].strip() if at < len(cells) else ""
            malformed.append(MalformedLine(first, case_id[:128] or "?", problem))
    except csv.Error as exc:
        raise IndexerError(f"{path}, line {reader.line_num}: not CSV: {exc}") from exc
    if not cases and not malformed:
        raise IndexerError(f"{path} lists 0 cases (a header and no case line)")
    return CasesCsv(path, cases, malformed)
