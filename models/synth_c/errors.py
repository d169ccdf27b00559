"""The one exception of generator C."""

from __future__ import annotations

from models.errors import ModelError

__all__ = ["SynthCError"]


class SynthCError(ModelError):
    """Generator C was asked for something it cannot make (bad size, resolution, rate)."""

    __module__ = "models.synth_c"
