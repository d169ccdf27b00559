"""Exceptions raised by :mod:`dicom_conversion`."""

from __future__ import annotations

__all__ = ["ConversionError"]


class ConversionError(Exception):
    """A DICOM or NIfTI input could not be turned into a volume (or back)."""

    __module__ = "dicom_conversion"
