"""Which status each of the layers' errors becomes at the API's edge
(:func:`plugin.api.problems.classify`): the client's fault 4xx, a service that is not
there 503, anything else 500."""

from __future__ import annotations

import tempfile

import pytest
import requests
from procrastinate.exceptions import ConnectorException
from psycopg import OperationalError
from psycopg_pool import PoolTimeout

from dicom_conversion.errors import NiftiError
from indexer.errors import (
    CaseNotFoundError,
    DatabaseUnavailableError,
    ModelVersionError,
    NoTumourError,
)
from models.errors import ChecksumMismatchError, InvalidStudyError, WeightsNotFoundError
from plugin.api.problems import classify
from plugin.errors import StudySourceError


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidStudyError("the study holds none of the sequences T1, T1C, T2, FLAIR"), 422),
        (NoTumourError(), 422),
        (NiftiError("no voxels"), 422),
        (CaseNotFoundError("no case c1"), 404),
        (ModelVersionError("the archive is empty: no model version is active yet"), 409),
        (DatabaseUnavailableError("cannot connect"), 503),
        (OperationalError("server closed the connection unexpectedly"), 503),
        (PoolTimeout("couldn't get a connection after 10.00 sec"), 503),
        (ConnectorException(), 503),
        (requests.ConnectionError("refused"), 503),
        (StudySourceError("SIMCASE_PACS__DICOMWEB_URL is not set"), 503),
        (WeightsNotFoundError("no embedder weights in /srv/models"), 503),
        (ChecksumMismatchError("embedder.onnx"), 503),
        (ValueError("a bug"), 500),
        (KeyError("a bug"), 500),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_each_error_has_its_status(error: Exception, status: int) -> None:
    assert classify(error)[0] == status


def test_a_service_answer_names_no_server_path_and_a_422_no_temporary_folder() -> None:
    assert "/srv/models" not in classify(WeightsNotFoundError("no weights in /srv/models"))[1]
    upload = f"{tempfile.gettempdir()}/simcase-query-x1/a.nii.gz"
    assert classify(NiftiError(f"{upload}: no voxels"))[1] == "<upload>: no voxels"
