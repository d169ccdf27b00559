"""Sending result objects into a real Orthanc, by C-STORE and by STOW-RS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugin.results.sender import (
    CStoreSender,
    ResultSender,
    SendError,
    StowSender,
    sender_from_settings,
)
from plugin.settings import ResultsSettings
from tests.conftest import free_port
from tests.integration.plugin.orthanc_fixture import OrthancServer
from tests.unit.plugin.result_samples import hits_for, results_for
from tests.unit.plugin.samples import mr_series

pytestmark = pytest.mark.integration


def results_for_new_study() -> list:
    source = mr_series(1)
    return results_for(source, hits_for(3), np.ones((32, 32)))


def series_in_orthanc(orthanc: OrthancServer, study_uid: str) -> set[str]:
    found = orthanc.post(
        "/tools/find",
        {"Level": "Series", "Query": {"StudyInstanceUID": study_uid}, "Expand": True},
    )
    return {s["MainDicomTags"].get("Modality", "") for s in found}


@pytest.mark.parametrize("kind", ["cstore", "stow"])
def test_results_arrive_in_orthanc(orthanc: OrthancServer, kind: str) -> None:
    objs = results_for_new_study()
    sender: ResultSender = (
        CStoreSender(orthanc.aet, "127.0.0.1", orthanc.dicom_port)
        if kind == "cstore"
        else StowSender(orthanc.dicomweb_url)
    )
    assert isinstance(sender, ResultSender)
    report = sender.send(objs)
    assert report.attempts == 1
    assert set(report.sop_instance_uids) == {str(d.SOPInstanceUID) for d in objs}
    assert series_in_orthanc(orthanc, objs[0].StudyInstanceUID) == {"OT", "SR"}
    # sending the same objects again adds nothing
    sender.send(objs)
    study = orthanc.post(
        "/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": objs[0].StudyInstanceUID}}
    )
    assert len(study) == 1
    assert len(orthanc.get(f"/studies/{study[0]}/instances")) == 2


def test_cstore_retries_then_fails_with_the_destination_named() -> None:
    delays: list[float] = []
    port = free_port()  # nothing listens there
    sender = CStoreSender(
        "NOBODY", "127.0.0.1", port, attempts=3, backoff_seconds=0.1, sleep=delays.append
    )
    with pytest.raises(SendError, match=f"NOBODY@127.0.0.1:{port}"):
        sender.send(results_for_new_study())
    assert delays == [0.1, 0.2]


def test_stow_retries_then_fails(tmp_path: Path) -> None:
    delays: list[float] = []
    sender = StowSender(
        f"http://127.0.0.1:{free_port()}/dicom-web", attempts=2, sleep=delays.append
    )
    with pytest.raises(SendError, match="dicom-web"):
        sender.send(results_for_new_study())
    assert delays == [0.5]


def test_sender_from_settings() -> None:
    assert sender_from_settings(ResultsSettings()) is None
    stow = sender_from_settings(ResultsSettings(stow_url="http://127.0.0.1:1/dicom-web"))
    assert isinstance(stow, StowSender)
    cstore = sender_from_settings(ResultsSettings(ae_title="PACS", host="127.0.0.1", port=104))
    assert isinstance(cstore, CStoreSender)
    assert cstore.destination == "dicom://PACS@127.0.0.1:104"
