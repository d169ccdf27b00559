"""An upload's files on disk: ``.zip`` archives unpacked, ``.gz`` files checked or
unpacked, under a limit on the decompressed total.

The limit (``SIMCASE_API__MAX_UNCOMPRESSED_BYTES``) counts every byte written or
decompressed, as it streams out, one chunk at a time: a zip or gzip bomb is stopped at
the limit, whatever its headers claim, with memory at one chunk and the disk at the
limit. Archive member names never become paths: members are written flat under a
numbered name (a NIfTI case keeps its file names inside its case folder).

- ``.zip``: every file member is unpacked (folders flattened; a zip inside is kept as a
  file, not unpacked).
- ``.nii.gz``: kept compressed (the NIfTI reader wants it so) once its decompressed size
  is counted.
- any other ``.gz`` (``.dcm.gz``): unpacked.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from plugin.errors import UploadTooLargeError

__all__ = ["MAX_ARCHIVE_MEMBERS", "DecompressionBudget", "save_uploads", "without_paths"]

#: Files one upload may unpack to (a zip of a million empty files is a bomb too).
MAX_ARCHIVE_MEMBERS = 20_000
_CHUNK = 1024 * 1024
_NIFTI = (".nii", ".nii.gz")


class DecompressionBudget:
    """Bytes an upload may occupy once decompressed; :meth:`take` raises beyond it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.files = 0

    def take(self, size: int) -> None:
        """Count ``size`` more bytes; :class:`UploadTooLargeError` past the limit."""
        self.used += size
        if self.used > self.max_bytes:
            raise UploadTooLargeError(
                f"the upload decompresses to more than the limit of {self.max_bytes} bytes"
            )

    def add_file(self) -> None:
        """Count one more file; :class:`UploadTooLargeError` past the member limit."""
        self.files += 1
        if self.files > MAX_ARCHIVE_MEMBERS:
            raise UploadTooLargeError(
                f"the upload holds more than {MAX_ARCHIVE_MEMBERS} files once unpacked"
            )


def _copy(source: BinaryIO, target: Path, budget: DecompressionBudget | None) -> None:
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            if budget is not None:
                budget.take(len(chunk))
            out.write(chunk)


def _count_gzip(path: Path, budget: DecompressionBudget) -> None:
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            budget.take(len(chunk))


def _base_name(name: str, fallback: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name
    return base if base not in ("", ".", "..") else fallback


class _Unpacker:
    def __init__(self, folder: Path, budget: DecompressionBudget) -> None:
        self.folder = folder
        self.budget = budget
        #: file on disk -> the name it came with (without a numbered prefix)
        self.files: dict[Path, str] = {}

    def _path(self, name: str) -> Path:
        self.budget.add_file()
        return self.folder / f"{len(self.files):05d}_{name}"

    def place(self, source: BinaryIO, name: str, *, unpack_zip: bool = True) -> None:
        lower = name.lower()
        if unpack_zip and lower.endswith(".zip"):
            self._unzip(source)
        elif lower.endswith(".nii.gz"):
            path = self._path(name)
            _copy(source, path, None)  # counted decompressed, just below
            self.files[path] = name
            _count_gzip(path, self.budget)
        elif lower.endswith(".gz"):
            path = self._path(name[:-3] or "file")
            with gzip.GzipFile(fileobj=source, mode="rb") as stream:
                _copy(stream, path, self.budget)  # type: ignore[arg-type]
            self.files[path] = name[:-3]
        else:
            path = self._path(name)
            _copy(source, path, self.budget)
            self.files[path] = name

    def _unzip(self, source: BinaryIO) -> None:
        with zipfile.ZipFile(source) as archive:
            for i, member in enumerate(archive.infolist()):
                if member.is_dir():
                    continue
                name = _base_name(member.filename, f"member{i}")
                with archive.open(member) as stream:
                    self.place(stream, name, unpack_zip=False)  # type: ignore[arg-type]


def save_uploads(
    uploads: Iterable[tuple[str, BinaryIO]], folder: Path, max_uncompressed_bytes: int
) -> Path:
    """Write ``(file name, stream)`` uploads under ``folder``, archives unpacked, and
    return the folder to read: a NIfTI case's folder (named like its files' prefix),
    else the folder of DICOM files.

    Raises :class:`~plugin.errors.UploadTooLargeError` past the decompressed limit (what
    was written stays under ``folder``, for the caller to remove), :class:`ValueError`
    for an archive that cannot be read.
    """
    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    unpacker = _Unpacker(files, DecompressionBudget(max_uncompressed_bytes))
    try:
        for i, (name, stream) in enumerate(uploads):
            unpacker.place(stream, _base_name(name, f"file{i}"))
    except (zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"cannot unpack the upload: {exc}") from exc
    except RuntimeError as exc:  # an encrypted zip member
        raise ValueError(f"cannot unpack the upload: {exc}") from exc
    nifti = {path: name for path, name in unpacker.files.items() if name.endswith(_NIFTI)}
    if not nifti:
        return files
    case = folder / _case_name(next(iter(nifti.values())))
    case.mkdir(exist_ok=True)
    for path, name in nifti.items():
        shutil.move(path, case / name)
    return case


def _case_name(filename: str) -> str:
    """``BraTS-GLI-00001-000-t1c.nii.gz`` -> ``BraTS-GLI-00001-000`` (the reader wants the
    folder named like the files' prefix)."""
    stem = Path(filename).name.removesuffix(".gz").removesuffix(".nii")
    for sep in ("-", "_"):
        head, found, _ = stem.rpartition(sep)
        if found and head:
            return head
    return "query"


def without_paths(message: str, folder: str) -> str:
    """``message`` with the server's temporary folder (and anything under it) replaced
    by ``<upload>``: error texts never show server paths."""
    for root in {folder, str(Path(folder).resolve()), tempfile.gettempdir()}:
        message = re.sub(re.escape(root) + r"[^\s'\",;:)]*", "<upload>", message)
    return message
