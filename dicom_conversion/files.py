"""Reading the DICOM files of a folder (any nesting, any names)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError

__all__ = ["FolderContents", "read_dicom_folder"]

logger = logging.getLogger(__name__)


@dataclass
class FolderContents:
    """The DICOM datasets of a folder and the files that were not DICOM."""

    datasets: list[Dataset] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def read_dicom_folder(folder: Path) -> FolderContents:
    """Read every DICOM file under ``folder`` (recursively); skip the rest with a warning.

    DICOMDIR files and files that are not DICOM Part 10 are skipped.
    """
    contents = FolderContents()
    paths = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    for path in paths:
        if path.name.upper() == "DICOMDIR":
            contents.skipped.append(path)
            continue
        try:
            ds = dcmread(path)
        except (InvalidDicomError, EOFError, OSError, ValueError) as exc:
            logger.warning("skipping non-DICOM file", extra={"path": str(path), "error": str(exc)})
            contents.skipped.append(path)
            continue
        contents.datasets.append(ds)
    return contents
