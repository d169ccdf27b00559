"""A file system that really fills up: a tmpfs of a few MiB mounted in a user and mount
namespace of its own (``unshare --user --map-root-user --mount``: no root needed, the
network namespace is the host's, so 127.0.0.1 reaches the test's PostgreSQL).

Processes run inside with :func:`inside` (``nsenter`` into the holder's namespaces);
the test reads the file system from outside through ``/proc/<holder>/root``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SmallFilesystem", "small_filesystem"]

_HOLD = (
    'echo ready && read -r go && mount -t tmpfs -o size="$1" simcase-small "$2"'
    " && echo mounted && exec sleep 3600"
)
#: As root, the namespace maps uids and gids 0-65535 to themselves, so that root inside
#: keeps reaching what other users own (the embedded PostgreSQL's socket folder belongs
#: to its own user, mode 0700). Otherwise the caller's user is root inside, as with
#: ``unshare --map-root-user``.
_IDENTITY = "0 0 65536\n"


@dataclass(frozen=True)
class SmallFilesystem:
    """A tmpfs mounted on ``mount_point`` in the namespaces of process ``holder``."""

    mount_point: Path
    holder: int

    def inside(self) -> list[str]:
        """The command prefix that runs a program in the namespace."""
        return [
            "nsenter",
            f"--target={self.holder}",
            "--user",
            "--mount",
            "--preserve-credentials",
            "--",
        ]

    def outside(self, path: Path) -> Path:
        """``path`` (under the mount point) as the test's own process reaches it."""
        return Path(f"/proc/{self.holder}/root") / path.relative_to("/")


@contextlib.contextmanager
def small_filesystem(mount_point: Path, size: str) -> Iterator[SmallFilesystem]:
    """A tmpfs of ``size`` (``8m``) on ``mount_point``, seen only inside its namespace.

    Fails (never skips) when ``unshare``/``nsenter`` (util-linux) are missing or the
    kernel refuses unprivileged user namespaces.
    """
    for tool in ("unshare", "nsenter"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run .ci/run (apt-get install util-linux)")
    mount_point.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    holder = subprocess.Popen(
        [
            "unshare",
            *(["--user"] if as_root else ["--map-root-user"]),
            "--mount",
            *["sh", "-c", _HOLD, "sh", size, str(mount_point)],
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdin and holder.stdout and holder.stderr
        if holder.stdout.readline().strip() == "ready":
            if as_root:
                Path(f"/proc/{holder.pid}/uid_map").write_text(_IDENTITY)
                Path(f"/proc/{holder.pid}/gid_map").write_text(_IDENTITY)
            holder.stdin.write("go\n")
            holder.stdin.flush()
        if holder.stdout.readline().strip() != "mounted":
            holder.kill()
            holder.wait(10)
            pytest.fail(f"cannot mount a tmpfs in a user namespace: {holder.stderr.read()}")
        yield SmallFilesystem(mount_point, holder.pid)
    finally:
        holder.kill()
        holder.wait(10)
