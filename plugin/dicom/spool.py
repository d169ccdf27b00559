"""The spool: received instances as files, written durably before they are acknowledged.

Layout: ``<spool>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``.

One device flush per instance: a new instance is created under its final name and
fsynced before :meth:`Spool.write` returns. On journalling file systems (ext4, XFS,
btrfs) that fsync also commits the new directory entry; directories are fsynced when
created and again by :meth:`Spool.sync_directories` (after each association), which
covers other file systems once the sender has finished. A crash while a file is being
written leaves a partial file for an instance that was never acknowledged: the
listener's start-up scan (:meth:`Spool.instances`) reports it as unreadable and it is
removed. An instance that is already in the spool (sent again) is replaced atomically
instead: temporary file, fsync, rename, directory fsync, so the acknowledged copy is
never lost.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from plugin.dicom.uids import safe_component

__all__ = ["Spool", "safe_component"]


def _write_all(fd: int, pieces: Sequence[bytes | memoryview]) -> None:
    views = [memoryview(p).cast("B") for p in pieces]
    while views:
        written = os.writev(fd, views)
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A directory of received instances, safe to use from several threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known_dirs: set[Path] = set()
        self._dirty: set[Path] = set()
        self._lock = threading.Lock()
        self._counter = 0

    def path_for(self, study_instance_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where an instance lives in the spool."""
        return (
            self.root
            / safe_component(study_instance_uid)
            / safe_component(series_uid)
            / f"{safe_component(sop_uid)}.dcm"
        )

    def free_bytes(self) -> int:
        """Bytes available to simcase on the spool's file system (the root, or the
        nearest folder above it that exists)."""
        folder = self.root
        while True:  # one statvfs once the root exists (no stat before it)
            try:
                stats = os.statvfs(folder)
                break
            except FileNotFoundError:
                if folder == folder.parent:
                    raise
                folder = folder.parent
        return stats.f_bavail * stats.f_frsize

    def write(
        self,
        study_instance_uid: str,
        series_uid: str,
        sop_uid: str,
        data: bytes | Sequence[bytes | memoryview],
    ) -> Path:
        """Write one encoded instance (bytes, or pieces written in order) durably and
        return its path.

        When this returns, the file's content is on stable storage (and, on journalling
        file systems, its directory entry).
        """
        path = self.path_for(study_instance_uid, series_uid, sop_uid)
        self._make_dirs(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self._replace(path, data if isinstance(data, bytes) else b"".join(data))
            return path
        try:
            try:
                _write_all(fd, [data] if isinstance(data, bytes) else data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        with self._lock:
            self._dirty.add(path.parent)
        return path

    def _replace(self, path: Path, data: bytes) -> None:
        with self._lock:
            self._counter += 1
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{self._counter}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    def sync_directories(self) -> None:
        """fsync the directories that got new files since the last call."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        for directory in sorted(dirty):
            _fsync_dir(directory)

    def instances(self) -> Iterator[Path]:
        """Every instance file in the spool (temporary files of interrupted replacements
        are removed on the way)."""
        if not self.root.is_dir():
            return
        for study in os.scandir(self.root):
            if not study.is_dir(follow_symlinks=False):
                continue
            for series in os.scandir(study.path):
                if not series.is_dir(follow_symlinks=False):
                    continue
                for entry in os.scandir(series.path):
                    if entry.name.endswith(".tmp"):
                        Path(entry.path).unlink(missing_ok=True)
                    elif entry.name.endswith(".dcm") and entry.is_file(follow_symlinks=False):
                        yield Path(entry.path)

    def _make_dirs(self, directory: Path) -> None:
        if directory in self._known_dirs:
            return
        missing = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        directory.mkdir(parents=True, exist_ok=True)
        # Make the new directory entries durable, parent by parent.
        for created in reversed(missing):
            _fsync_dir(created.parent)
        with self._lock:
            self._known_dirs.add(directory)
