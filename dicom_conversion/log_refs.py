"""What a log line may say about a name that came from outside.

A file name, a folder or an archive's case id may carry a patient's name or ID, so logs
never quote them: they name a file by its position ("file 3 of 12") and anything else by
a short hash that tells two names apart without revealing either.
"""

from __future__ import annotations

import hashlib

__all__ = ["name_ref", "position"]


def name_ref(name: object) -> str:
    """A short stable stand-in for ``name``: ``ref:`` and 10 hex digits of its SHA-256."""
    return "ref:" + hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:10]


def position(index: int, total: int) -> str:
    """``file 3 of 12`` for the zero-based ``index`` of ``total`` files."""
    return f"file {index + 1} of {total}"
