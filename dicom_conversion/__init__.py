"""DICOM series to volumes and back: pure data in, data out.

The lowest layer of simcase. It imports none of ``models``, ``indexer`` or
``plugin``, never reads environment variables and never touches the network.
"""

from dicom_conversion.errors import ConversionError

__all__ = ["ConversionError"]
