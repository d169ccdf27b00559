"""The archive of confirmed cases: PostgreSQL + pgvector, jobs, bulk import.

Imports :mod:`dicom_conversion` and :mod:`models` only; never reads the environment.
"""

from indexer.errors import (
    CaseNotFoundError,
    DatabaseUnavailableError,
    IndexerError,
    MissingExtensionError,
    ModelVersionError,
)

__all__ = [
    "CaseNotFoundError",
    "DatabaseUnavailableError",
    "IndexerError",
    "MissingExtensionError",
    "ModelVersionError",
]
