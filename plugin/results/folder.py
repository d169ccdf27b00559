"""Results kept in a folder: the sender used when no PACS destination is configured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydicom.dataset import Dataset

from plugin.dicom.uids import safe_component
from plugin.results.sender import SendReport

__all__ = ["FolderSender", "results_folder", "save_results"]


def results_folder(results_dir: Path, study_instance_uid: str) -> Path:
    """The folder of one study's results under ``results_dir``: named by the UID when it
    is a DICOM UID, else by a hash of it (never a path a received value chose)."""
    return results_dir / safe_component(study_instance_uid)


def save_results(results_dir: Path, study_instance_uid: str, batch: list[Dataset]) -> Path:
    """Write one result set into the study's results folder, all or nothing.

    Every object is encoded to a hidden temporary file first; only when all of them are
    written are they renamed to ``<SOPInstanceUID>.dcm``.
    """
    folder = results_folder(results_dir, study_instance_uid)
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for ds in batch:
            final = folder / f"{safe_component(str(ds.SOPInstanceUID))}.dcm"
            tmp = folder / f".{final.name}.tmp"
            staged.append((tmp, final))
            ds.save_as(tmp, enforce_file_format=True)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        tmp.replace(final)
    return folder


class FolderSender:
    """A :class:`~plugin.results.sender.ResultSender` that writes each result set into
    ``<results_dir>/<StudyInstanceUID>/`` (see :func:`save_results`)."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = results_dir

    @property
    def destination(self) -> str:
        return str(self.results_dir)

    def send(self, datasets: Sequence[Dataset]) -> SendReport:
        """Write the result set (one query study's objects) into its folder."""
        batch = list(datasets)
        if not batch:
            raise ValueError("Argument 'datasets' must hold at least one result object.")
        folder = save_results(self.results_dir, str(batch[-1].StudyInstanceUID), batch)
        return SendReport(str(folder), tuple(str(ds.SOPInstanceUID) for ds in batch), 1)
