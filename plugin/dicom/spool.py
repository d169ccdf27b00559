"""The spool: received instances as files, written durably before they are acknowledged.

Layout: ``<spool>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``. A file
is written to a temporary name in its final directory, fsynced, renamed into place and
the directory fsynced, so a crash leaves either the whole file or none of it.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

__all__ = ["Spool", "safe_component"]

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def safe_component(uid: str) -> str:
    """A file-name component for a UID: the UID itself when it is a conformant UID.

    Anything else (letters, separators, ``..``, over 64 characters) becomes ``x`` plus
    a hash of it, so no received value can reach outside the spool.
    """
    if _UID.match(uid) and len(uid) <= 64:
        return uid
    return "x" + hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:40]


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
        self._lock = threading.Lock()
        self._counter = 0

    def path_for(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where an instance lives in the spool."""
        return (
            self.root
            / safe_component(study_uid)
            / safe_component(series_uid)
            / f"{safe_component(sop_uid)}.dcm"
        )

    def write(self, study_uid: str, series_uid: str, sop_uid: str, data: bytes) -> Path:
        """Write one encoded instance durably and return its path.

        When this returns, the file and its directory entry are on stable storage.
        """
        path = self.path_for(study_uid, series_uid, sop_uid)
        self._make_dirs(path.parent)
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
        return path

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
