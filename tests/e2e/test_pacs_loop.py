"""The PACS loop on real components: Debian's Orthanc (DICOMweb + Python plugins and the
simcase forward script), simcase's listener and worker as separate processes on the
embedded PostgreSQL with an indexed synthetic archive and the shipped models, dcmtk's
storescu, dciodvfy on every object simcase wrote."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydicom
import pytest

from plugin.orthanc.config import forward_script_path
from tests.conftest import free_port
from tests.e2e.conftest import (
    REPORT_DESCRIPTION,
    RESULT_SERIES,
    STABLE_AGE_S,
    PushLoop,
    QueryStudy,
    count,
    fetch_instances,
    result_series,
    simcase_env,
    simcase_processes,
    sr_text,
    storescu_folder,
    wait_for_log,
    wait_for_results,
)
from tests.integration.plugin.orthanc_fixture import OrthancServer, running_orthanc

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def without_seg(study: QueryStudy, folder: Path) -> Path:
    """A copy of the query study without its SEG: simcase must segment the tumour itself."""
    import shutil

    for path in study.dicom_dir.rglob("*.dcm"):
        if pydicom.dcmread(path, stop_before_pixels=True).Modality != "SEG":
            target = folder / path.relative_to(study.dicom_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return folder


@dataclass(frozen=True)
class Results:
    """One result set as Orthanc holds it."""

    report: pydicom.Dataset
    text: str
    seg: pydicom.Dataset
    measurements: pydicom.Dataset


def check_results(
    orthanc: OrthancServer, query: QueryStudy, tmp_path: Path, *, sets: int = 1
) -> list[Results]:
    """simcase's objects in the study, checked (dciodvfy, references); result sets oldest
    first, each montage + SEG + TID 1500 volumes + TID 1500 similar-case list +
    similar-case report."""
    paths = fetch_instances(orthanc, query.study_instance_uid, tmp_path / "results")
    datasets = [pydicom.dcmread(p) for p in paths]
    modalities = sorted(str(ds.Modality) for ds in datasets)
    assert modalities == sorted(["OT", "SEG", "SR", "SR", "SR"] * sets), modalities
    for path in paths:
        check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        errors = [line for line in check.stderr.splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}: {errors}"
    for ds in datasets:
        assert ds.StudyInstanceUID == query.study_instance_uid
        assert ds.Manufacturer == "simcase"
        assert "not for diagnostic use" in ds.SeriesDescription
    source_uids = {
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
        for p in query.dicom_dir.rglob("*.dcm")
    }
    out = []
    reports = [ds for ds in datasets if ds.SeriesDescription == REPORT_DESCRIPTION]
    for report in sorted(reports, key=lambda ds: (str(ds.SeriesDate), str(ds.SeriesTime))):
        siblings = [
            ds
            for ds in datasets
            if str(ds.SeriesDate) + str(ds.SeriesTime)
            == str(report.SeriesDate) + str(report.SeriesTime)
        ]
        seg = next(ds for ds in siblings if ds.Modality == "SEG")
        measurements = next(
            ds for ds in siblings if str(ds.SeriesDescription).startswith("simcase tumour vol")
        )
        similar = next(
            ds for ds in siblings if str(ds.SeriesDescription).startswith("simcase similar-case")
        )
        # The SEG outlines the query's own images; the TID 1500 report references the SEG.
        frames = seg.PerFrameFunctionalGroupsSequence
        refs = {
            f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
            for f in frames
        }
        assert refs and refs <= source_uids
        for tid1500 in (measurements, similar):
            assert tid1500.ContentTemplateSequence[0].TemplateIdentifier == "1500"
            evidence = {
                item.ReferencedSOPInstanceUID
                for study in tid1500.CurrentRequestedProcedureEvidenceSequence
                for series in study.ReferencedSeriesSequence
                for item in series.ReferencedSOPSequence
            }
            assert seg.SOPInstanceUID in evidence
            assert evidence <= source_uids | {seg.SOPInstanceUID}  # no other patient's
        text = sr_text(report)
        assert "Similar case" in text, text
        assert "not for diagnostic use" in text.lower()
        out.append(Results(report, text, seg, measurements))
    assert len(out) == sets
    return out


def top_diagnosis(text: str) -> str:
    found = re.search(r"(glioma|meningioma|metastasis)", text.split("Similar case", 1)[-1])
    assert found, text
    return found.group(1)


def received_count(loop: PushLoop, study_uid: str) -> int:
    return count(
        loop.database_url,
        "SELECT count(*) FROM received_instances WHERE study_instance_uid = %s",
        study_uid,
    )


def test_push_stable_study_gets_results_once(
    push_loop: PushLoop, query_study: QueryStudy, tmp_path: Path
) -> None:
    orthanc, study_uid = push_loop.orthanc, query_study.study_instance_uid
    storescu_folder(orthanc, query_study.dicom_dir)
    wait_for_results(orthanc, study_uid, push_loop.logs)
    (results,) = check_results(orthanc, query_study, tmp_path)
    assert top_diagnosis(results.text) == query_study.diagnosis, results.text
    assert "a SEG in the study" in results.text, results.text
    received = received_count(push_loop, study_uid)
    # Two more StableAge periods: no duplicate results, the study is not re-sent.
    time.sleep(3 * STABLE_AGE_S + 4)
    assert len(result_series(orthanc, study_uid)) == RESULT_SERIES
    assert received == received_count(push_loop, study_uid)
    assert count(push_loop.database_url, "SELECT count(*) FROM results") == 1
    shown = count(
        push_loop.database_url,
        "SELECT count(*) FROM audit_log WHERE action = 'shown_cases' AND subject = %s",
        study_uid,
    )
    assert shown == 1


def split_series(study: QueryStudy, late_description: str, folder: Path) -> tuple[Path, Path]:
    """Copies of the query study: every series but the late one, and the late one."""
    import shutil

    early, late = folder / "early", folder / "late"
    for path in study.dicom_dir.rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        target = (late if ds.SeriesDescription == late_description else early) / path.relative_to(
            study.dicom_dir
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    assert any(late.rglob("*.dcm")), f"no series {late_description!r} in the query study"
    return early, late


def summary_value(text: str, name: str) -> str:
    found = re.search(rf"^{re.escape(name)}: (.*)$", text, re.MULTILINE)
    assert found, f"no {name!r} in\n{text}"
    return found.group(1)


def test_late_series_supersedes_earlier_results(
    push_loop: PushLoop, query_study: QueryStudy, tmp_path: Path
) -> None:
    """FLAIR arrives after the results of T1/T1C/T2 were sent: a second result set that
    names the first report it supersedes, and no duplicate of either."""
    orthanc, study_uid = push_loop.orthanc, query_study.study_instance_uid
    early, late = split_series(query_study, "Ax T2 FLAIR", tmp_path / "split")
    storescu_folder(orthanc, early)
    wait_for_results(orthanc, study_uid, push_loop.logs)
    (first,) = check_results(orthanc, query_study, tmp_path / "first")
    assert summary_value(first.text, "Missing sequences") == "FLAIR"
    assert "Supersedes result" not in first.text

    storescu_folder(orthanc, late)
    wait_for_results(orthanc, study_uid, push_loop.logs, series=2 * RESULT_SERIES)
    old, new = check_results(orthanc, query_study, tmp_path / "second", sets=2)
    assert old.report.SOPInstanceUID == first.report.SOPInstanceUID
    assert summary_value(new.text, "Missing sequences") == "none"
    assert summary_value(new.text, "Supersedes result") == first.report.SOPInstanceUID
    assert new.seg.SOPInstanceUID != first.seg.SOPInstanceUID
    rows = count(
        push_loop.database_url,
        "SELECT count(*) FROM results WHERE study_instance_uid = %s AND state = 'sent'",
        study_uid,
    )
    assert rows == 2
    # Our own second result set makes the study stable again: nothing more is sent.
    time.sleep(3 * STABLE_AGE_S + 4)
    assert len(result_series(orthanc, study_uid)) == 2 * RESULT_SERIES
    assert count(push_loop.database_url, "SELECT count(*) FROM results") == 2


def test_pull_by_notify_gets_results(
    indexed_archive: str, query_study: QueryStudy, tmp_path: Path
) -> None:
    api_port = free_port()
    token = "e2e-token"
    with running_orthanc(
        tmp_path / "orthanc",
        stable_age=STABLE_AGE_S,
        forward_script=forward_script_path(),
        forward_settings={
            "Mode": "notify",
            "NotifyUrl": f"http://127.0.0.1:{api_port}/api/v1/studies/{{study_uid}}/search",
            "Token": token,
        },
    ) as orthanc:
        env = simcase_env(
            indexed_archive,
            tmp_path / "data",
            api__port=str(api_port),
            api__admin_token=token,
            pacs__dicomweb_url=orthanc.dicomweb_url,
            results__stow_url=orthanc.dicomweb_url,
        )
        logs = tmp_path / "logs"
        with simcase_processes(["api", "worker"], env, logs):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=2).is_success:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (logs / "api.log").read_text()
                time.sleep(0.5)
            storescu_folder(orthanc, without_seg(query_study, tmp_path / "no-seg"))
            wait_for_results(orthanc, query_study.study_instance_uid, logs)
            (results,) = check_results(orthanc, query_study, tmp_path)
            assert top_diagnosis(results.text) == query_study.diagnosis, results.text
            assert "simcase segmentation model" in results.text, results.text


def test_changes_feed_default_needs_no_code_inside_orthanc(
    indexed_archive: str, query_study: QueryStudy, tmp_path: Path
) -> None:
    """The default integration: simcase follows Orthanc's /changes and pulls by DICOMweb."""
    with running_orthanc(tmp_path / "orthanc", stable_age=STABLE_AGE_S) as orthanc:
        env = simcase_env(
            indexed_archive,
            tmp_path / "data",
            dicom__host="127.0.0.1",
            dicom__port=str(free_port()),
            pacs__orthanc_url=orthanc.url,
            pacs__dicomweb_url=orthanc.dicomweb_url,
            results__stow_url=orthanc.dicomweb_url,
        )
        logs = tmp_path / "logs"
        with simcase_processes(["listen", "worker"], env, logs):
            # The follower starts at the end of the feed: send only once it is following.
            wait_for_log(logs / "listen.log", "following Orthanc changes from seq")
            wait_for_log(logs / "worker.log", "worker started")
            storescu_folder(orthanc, query_study.dicom_dir)
            wait_for_results(orthanc, query_study.study_instance_uid, logs)
            check_results(orthanc, query_study, tmp_path)
            # Our own results made the study stable again: no second processing.
            time.sleep(3 * STABLE_AGE_S + 4)
            assert len(result_series(orthanc, query_study.study_instance_uid)) == RESULT_SERIES
            assert count(indexed_archive, "SELECT count(*) FROM results") == 1
