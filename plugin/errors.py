"""Exceptions raised by :mod:`plugin`."""

from __future__ import annotations

__all__ = ["ConfigurationError", "PluginError"]


class PluginError(Exception):
    """Base class of the errors raised by the PACS-facing layer."""

    __module__ = "plugin"


class ConfigurationError(PluginError):
    """The settings are unusable (for example a default admin token on a public address)."""

    __module__ = "plugin"
