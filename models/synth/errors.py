"""Exceptions raised by :mod:`models.synth`."""

from __future__ import annotations

from models.errors import ModelError

__all__ = ["SynthesisError", "TemplateNotFoundError"]


class SynthesisError(ModelError):
    """A synthetic case or corpus could not be generated or written."""

    __module__ = "models.synth"


class TemplateNotFoundError(SynthesisError):
    """The MNI152 template files that ship inside the nilearn wheel are missing."""

    __module__ = "models.synth"
