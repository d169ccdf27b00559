"""The exception raised by generator B."""

from __future__ import annotations

from models.errors import ModelError

__all__ = ["SynthBError"]


class SynthBError(ModelError):
    """Generator B was asked for something it cannot make (bad argument or folder)."""

    __module__ = "models.synth_b"
