"""Exceptions raised by :mod:`dicom_conversion`.

One base class, :class:`ConversionError`; every subclass names a precise way in
which an input could not be turned into a volume (or back). Messages name the
offending series (by SeriesInstanceUID), file or argument, never the patient.
"""

from __future__ import annotations

__all__ = [
    "ConflictingDuplicateSliceError",
    "ConversionError",
    "CorruptDatasetError",
    "FrameOfReferenceMismatchError",
    "InconsistentSpacingError",
    "MissingSliceError",
    "MixedOrientationError",
    "MixedSeriesError",
    "MixedSizeError",
    "NiftiError",
    "NoUsableSeriesError",
    "NotAnImageError",
    "PixelDataError",
    "SegmentationError",
    "UnreadableFileError",
]


class ConversionError(Exception):
    """A DICOM or NIfTI input could not be turned into a volume (or back)."""

    __module__ = "dicom_conversion"


class NotAnImageError(ConversionError):
    """An instance has no pixel data or no patient geometry (SR, KO, PR, ...)."""

    __module__ = "dicom_conversion"


class UnreadableFileError(ConversionError):
    """A file is not DICOM, or its DICOM structure cannot be parsed."""

    __module__ = "dicom_conversion"


class CorruptDatasetError(ConversionError):
    """A dataset's attributes cannot be parsed (corrupt values or lengths)."""

    __module__ = "dicom_conversion"


class PixelDataError(ConversionError):
    """Pixel data is missing, truncated, corrupt or in an undecodable syntax."""

    __module__ = "dicom_conversion"


class MixedSeriesError(ConversionError):
    """Datasets given as one series belong to several series or frames of reference."""

    __module__ = "dicom_conversion"


class MixedOrientationError(ConversionError):
    """The slices of a series do not share one ImageOrientationPatient."""

    __module__ = "dicom_conversion"


class MixedSizeError(ConversionError):
    """The slices of a series differ in Rows, Columns or PixelSpacing."""

    __module__ = "dicom_conversion"


class MissingSliceError(ConversionError):
    """The slice positions have a gap: at least one slice is missing."""

    __module__ = "dicom_conversion"


class ConflictingDuplicateSliceError(ConversionError):
    """Two slices share a position but hold different pixels."""

    __module__ = "dicom_conversion"


class InconsistentSpacingError(ConversionError):
    """Slice positions are not regularly spaced or not stacked along the normal."""

    __module__ = "dicom_conversion"


class FrameOfReferenceMismatchError(ConversionError):
    """Series of one study that should share a grid use different frames of reference."""

    __module__ = "dicom_conversion"


class NoUsableSeriesError(ConversionError):
    """A study holds no series that can be used as an MR sequence."""

    __module__ = "dicom_conversion"


class NiftiError(ConversionError):
    """A NIfTI file or BraTS-layout folder is missing, unreadable or inconsistent."""

    __module__ = "dicom_conversion"


class SegmentationError(ConversionError):
    """A DICOM SEG could not be written or read onto the study grid."""

    __module__ = "dicom_conversion"
