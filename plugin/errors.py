"""Exceptions raised by :mod:`plugin`."""

from __future__ import annotations

__all__ = ["ConfigurationError", "OutlineError", "PluginError", "StudySourceError"]


class PluginError(Exception):
    """Base class of the errors raised by the PACS-facing layer."""

    __module__ = "plugin"


class ConfigurationError(PluginError):
    """The settings are unusable (for example a default admin token on a public address)."""

    __module__ = "plugin"


class StudySourceError(PluginError):
    """The query study's instances could not be obtained."""

    __module__ = "plugin"


class OutlineError(PluginError, ValueError):
    """The tumour outline cannot be written (no reference series, empty mask, geometry)."""

    __module__ = "plugin"
