"""Exceptions raised by :mod:`plugin`."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidUidError",
    "ListenerError",
    "OrthancFeedError",
    "OutlineError",
    "PduTooLargeError",
    "PluginError",
    "SendError",
    "StudySourceError",
    "UploadTooLargeError",
]


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


class InvalidUidError(PluginError, ValueError):
    """A value that should be a DICOM UID is not one."""

    __module__ = "plugin"


class ListenerError(PluginError):
    """The DICOM listener could not start."""

    __module__ = "plugin"


class PduTooLargeError(PluginError, OSError):
    """A peer announced a PDU longer than the listener accepts."""

    __module__ = "plugin"


class SendError(PluginError):
    """Result objects could not be delivered to the destination."""

    __module__ = "plugin"


class OrthancFeedError(PluginError):
    """Orthanc's REST API answered unexpectedly while following its changes."""

    __module__ = "plugin"


class UploadTooLargeError(PluginError):
    """An upload decompresses to more than the limit (or holds too many files)."""

    __module__ = "plugin"
