"""Exceptions raised by :mod:`indexer`."""

from __future__ import annotations

__all__ = [
    "CaseNotFoundError",
    "DatabaseUnavailableError",
    "IndexerError",
    "MissingExtensionError",
    "ModelVersionError",
    "NoTumourError",
]


class IndexerError(Exception):
    """Base class of the indexer's errors; the docstring is the default message."""

    __module__ = "indexer"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class DatabaseUnavailableError(IndexerError):
    """The PostgreSQL server could not be reached."""

    __module__ = "indexer"


class MissingExtensionError(IndexerError):
    """The PostgreSQL server lacks the pgvector extension (`vector`)."""

    __module__ = "indexer"


class CaseNotFoundError(IndexerError):
    """No archive case has this id."""

    __module__ = "indexer"


class ModelVersionError(IndexerError):
    """The model version is unknown, incomplete, or of another dimension."""

    __module__ = "indexer"


class NoTumourError(IndexerError):
    """No tumour was found in the study."""

    __module__ = "indexer"
