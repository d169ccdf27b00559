"""The PACS loop on real components: Debian's Orthanc (DICOMweb + Python plugins and the
simcase forward script), simcase's listener and worker as separate processes on the
embedded PostgreSQL with an indexed synthetic archive and the shipped models, dcmtk's
storescu, dciodvfy on every object simcase wrote."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest

from plugin.orthanc.config import forward_script_path
from tests.conftest import free_port
from tests.e2e.conftest import QueryStudy, count, simcase_env, simcase_processes
from tests.integration.plugin.orthanc_fixture import OrthancServer, running_orthanc

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RESULT_TIMEOUT_S = 180
STABLE_AGE_S = 2


def storescu_folder(orthanc: OrthancServer, folder: Path) -> None:
    done = subprocess.run(
        [
            "storescu",
            "-R",  # propose the files' own SOP classes (SEG is not in the default list)
            "+sd",
            "+r",
            "-aec",
            orthanc.aet,
            "127.0.0.1",
            str(orthanc.dicom_port),
            str(folder),
        ],
        env={**os.environ, "TCP_NODELAY": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:] + orthanc.log_text()[-3000:]


def without_seg(study: QueryStudy, folder: Path) -> Path:
    """A copy of the query study without its SEG: simcase must segment the tumour itself."""
    import shutil

    for path in study.dicom_dir.rglob("*.dcm"):
        if pydicom.dcmread(path, stop_before_pixels=True).Modality != "SEG":
            target = folder / path.relative_to(study.dicom_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return folder


def result_series(orthanc: OrthancServer, study_uid: str) -> list[dict[str, Any]]:
    """The study's series written by simcase (Manufacturer simcase), via QIDO-RS."""
    response = httpx.get(
        f"{orthanc.dicomweb_url}/studies/{study_uid}/series",
        params=[("includefield", "00080070"), ("includefield", "0008103E")],
        timeout=30,
    )
    if response.status_code == 204 or not response.content:
        return []
    response.raise_for_status()
    out = []
    for item in response.json():
        modality = item.get("00080060", {}).get("Value", [""])[0]
        if modality in ("SR", "OT"):
            out.append(item)
    return out


def wait_for_results(orthanc: OrthancServer, study_uid: str, logs: Path) -> list[dict[str, Any]]:
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while time.monotonic() < deadline:
        found = result_series(orthanc, study_uid)
        if {s["00080060"]["Value"][0] for s in found} >= {"SR", "OT"}:
            return found
        time.sleep(1)
    dump = "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(logs.glob("*.log")))
    raise AssertionError(f"no SC + SR in the study after {RESULT_TIMEOUT_S} s\n{dump}")


def fetch_instances(orthanc: OrthancServer, study_uid: str, folder: Path) -> list[Path]:
    """Download simcase's result instances from Orthanc as files."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = orthanc.post(
        "/tools/find", {"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}}
    )
    paths = []
    for instance_id in ids:
        data = httpx.get(f"{orthanc.url}/instances/{instance_id}/file", timeout=30).content
        path = folder / f"{instance_id}.dcm"
        path.write_bytes(data)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if str(ds.get("Manufacturer", "")) == "simcase":
            paths.append(path)
        else:
            path.unlink()
    return paths


def sr_text(ds: pydicom.Dataset) -> str:
    parts: list[str] = []

    def walk(items: Any) -> None:
        for item in items:
            name = (
                item.ConceptNameCodeSequence[0].CodeMeaning
                if "ConceptNameCodeSequence" in item
                else ""
            )
            value = item.get("TextValue", "")
            if "MeasuredValueSequence" in item:
                value = str(item.MeasuredValueSequence[0].NumericValue)
            parts.append(f"{name}: {value}")
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(ds.ContentSequence)
    return "\n".join(parts)


def check_results(
    orthanc: OrthancServer, query: QueryStudy, tmp_path: Path
) -> tuple[list[Path], str]:
    paths = fetch_instances(orthanc, query.study_instance_uid, tmp_path / "results")
    datasets = [pydicom.dcmread(p) for p in paths]
    modalities = sorted(str(ds.Modality) for ds in datasets)
    assert modalities == ["OT", "SR"], modalities
    for path in paths:
        check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        errors = [line for line in check.stderr.splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}: {errors}"
    sr = next(ds for ds in datasets if ds.Modality == "SR")
    text = sr_text(sr)
    assert "Similar case" in text or "similar case" in text.lower(), text
    assert "not for diagnostic use" in text.lower()
    for ds in datasets:
        assert ds.StudyInstanceUID == query.study_instance_uid
        assert ds.Manufacturer == "simcase"
    return paths, text


def top_diagnosis(text: str) -> str:
    found = re.search(r"(glioma|meningioma|metastasis)", text.split("Similar case", 1)[-1])
    assert found, text
    return found.group(1)


def test_push_stable_study_gets_results_once(
    indexed_archive: str, query_study: QueryStudy, tmp_path: Path
) -> None:
    listener_port = free_port()
    with running_orthanc(
        tmp_path / "orthanc",
        stable_age=STABLE_AGE_S,
        simcase_port=listener_port,
        forward_script=forward_script_path(),
        forward_settings={"Mode": "cstore", "Modality": "simcase"},
    ) as orthanc:
        env = simcase_env(
            indexed_archive,
            tmp_path / "data",
            dicom__port=str(listener_port),
            dicom__allowed_aes="ORTHANC",
            dicom__debounce_seconds="1",
            results__ae_title=orthanc.aet,
            results__host="127.0.0.1",
            results__port=str(orthanc.dicom_port),
        )
        logs = tmp_path / "logs"
        with simcase_processes(["listen", "worker"], env, logs):
            storescu_folder(orthanc, query_study.dicom_dir)
            wait_for_results(orthanc, query_study.study_instance_uid, logs)
            _, text = check_results(orthanc, query_study, tmp_path)
            assert top_diagnosis(text) == query_study.diagnosis, text
            assert "a SEG in the study" in text, text
            received = count(
                indexed_archive,
                "SELECT count(*) FROM received_instances WHERE study_instance_uid = %s",
                query_study.study_instance_uid,
            )
            # Two more StableAge periods: no duplicate results, the study is not re-sent.
            time.sleep(3 * STABLE_AGE_S + 4)
            assert len(result_series(orthanc, query_study.study_instance_uid)) == 2
            assert received == count(
                indexed_archive,
                "SELECT count(*) FROM received_instances WHERE study_instance_uid = %s",
                query_study.study_instance_uid,
            )
            assert count(indexed_archive, "SELECT count(*) FROM results") == 1
            shown = count(
                indexed_archive,
                "SELECT count(*) FROM audit_log WHERE action = 'shown_cases' AND subject = %s",
                query_study.study_instance_uid,
            )
            assert shown == 1


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
            _, text = check_results(orthanc, query_study, tmp_path)
            assert top_diagnosis(text) == query_study.diagnosis, text
            assert "simcase segmentation model" in text, text


def test_changes_feed_default_needs_no_code_inside_orthanc(
    indexed_archive: str, query_study: QueryStudy, tmp_path: Path
) -> None:
    """The default integration: simcase follows Orthanc's /changes and pulls by DICOMweb."""
    with running_orthanc(tmp_path / "orthanc", stable_age=STABLE_AGE_S) as orthanc:
        env = simcase_env(
            indexed_archive,
            tmp_path / "data",
            dicom__port=str(free_port()),
            pacs__orthanc_url=orthanc.url,
            pacs__dicomweb_url=orthanc.dicomweb_url,
            results__stow_url=orthanc.dicomweb_url,
        )
        logs = tmp_path / "logs"
        with simcase_processes(["listen", "worker"], env, logs):
            time.sleep(2)  # the follower starts at the end of the feed
            storescu_folder(orthanc, query_study.dicom_dir)
            wait_for_results(orthanc, query_study.study_instance_uid, logs)
            check_results(orthanc, query_study, tmp_path)
            # Our own results made the study stable again: no second processing.
            time.sleep(3 * STABLE_AGE_S + 4)
            assert len(result_series(orthanc, query_study.study_instance_uid)) == 2
            assert count(indexed_archive, "SELECT count(*) FROM results") == 1
