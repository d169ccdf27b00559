"""Exceptions raised by :mod:`models`."""

from __future__ import annotations

__all__ = ["ModelError"]


class ModelError(Exception):
    """A model could not be loaded, trained or run."""

    __module__ = "models"
