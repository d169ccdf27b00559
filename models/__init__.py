"""Tumour segmentation, slice selection, embedding, training and the synthetic corpus.

Imports only :mod:`dicom_conversion` from simcase's own packages.
"""

from models.errors import ModelError

__all__ = ["ModelError"]
