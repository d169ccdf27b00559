"""Reading DICOM files: one file, or a folder of them (any nesting, any names)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pydicom import Dataset, dcmread

from dicom_conversion.errors import UnreadableFileError
from dicom_conversion.fast_reading import read_fast
from dicom_conversion.log_refs import position

__all__ = ["FolderContents", "read_dicom_file", "read_dicom_folder"]

logger = logging.getLogger(__name__)


@dataclass
class FolderContents:
    """The DICOM datasets of a folder and the files that were skipped (with why)."""

    datasets: list[Dataset] = field(default_factory=list)
    skipped: dict[Path, str] = field(default_factory=dict)


def read_dicom_file(source: Path | BinaryIO) -> Dataset:
    """Read one DICOM Part 10 file (or file-like object).

    Raises
    ------
    UnreadableFileError
        Not DICOM, truncated header or corrupt structure.
    """
    name = str(source) if isinstance(source, Path) else getattr(source, "name", "<stream>")
    try:
        if isinstance(source, Path):
            fast = read_fast(source)
            if fast is not None:
                return fast
        return dcmread(source)
    except Exception as exc:  # pydicom raises many kinds on bad input; all mean unreadable
        raise UnreadableFileError(
            f"{name} is not a readable DICOM file ({type(exc).__name__}: {exc})"
        ) from exc


def read_dicom_folder(folder: Path) -> FolderContents:
    """Read every DICOM file under ``folder`` (recursively); skip the rest with a warning.

    DICOMDIR files and files that are not readable DICOM Part 10 are skipped.
    """
    contents = FolderContents()
    paths = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    for index, path in enumerate(paths):
        if path.name.upper() == "DICOMDIR":
            contents.skipped[path] = "DICOMDIR"
            continue
        try:
            ds = read_dicom_file(path)
        except UnreadableFileError as exc:
            logger.warning(  # the file's name may carry a patient's: its position instead
                "skipping file that is not DICOM",
                extra={
                    "file": position(index, len(paths)),
                    "error": type(exc.__cause__ or exc).__name__,
                },
            )
            contents.skipped[path] = str(exc)
            continue
        contents.datasets.append(ds)
    return contents
