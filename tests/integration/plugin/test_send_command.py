"""``simcase send`` against the real simcase listener (pynetdicom, PostgreSQL journal)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import psycopg
import pytest
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from typer.testing import CliRunner

from plugin.cli import app
from tests.conftest import free_port
from tests.integration.plugin.listener_helpers import CollectingCallback, running_listener
from tests.unit.plugin.samples import mr_series

pytestmark = pytest.mark.integration


def write(datasets: list[Dataset], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def journalled(database_url: str, study_uid: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT sop_instance_uid, calling_ae FROM received_instances"
            " WHERE study_instance_uid = %s",
            (study_uid,),
        ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def test_send_a_folder_and_a_zip_to_the_listener(database_url: str, tmp_path: Path) -> None:
    callback = CollectingCallback()
    folder_series = mr_series(5, seed=1)
    zip_series = mr_series(3, seed=2)
    write(folder_series, tmp_path / "study" / "series1")
    (tmp_path / "study" / "README.txt").write_text("not DICOM")
    with zipfile.ZipFile(tmp_path / "study.zip", "w") as archive:
        for path in write(zip_series, tmp_path / "zipped"):
            archive.write(path, f"series/{path.name}")
    runner = CliRunner()
    with running_listener(
        database_url, tmp_path / "spool", callback, allowed_aes=["SIMCASE-SEND"]
    ) as listener:
        port = str(listener.port)
        folder = runner.invoke(app, ["send", str(tmp_path / "study"), "--port", port])
        assert folder.exit_code == 0, folder.output
        assert "5 DICOM file(s), 1 SOP class(es), 1 other file(s) skipped" in folder.output
        assert "5 sent, 0 not stored" in folder.output
        zipped = runner.invoke(app, ["send", str(tmp_path / "study.zip"), "--port", port])
        assert zipped.exit_code == 0, zipped.output
        assert "3 sent" in zipped.output
        studies = callback.wait_for(2, timeout=15)
    for series in (folder_series, zip_series):
        study_uid = str(series[0].StudyInstanceUID)
        assert study_uid in studies
        rows = journalled(database_url, study_uid)
        assert set(rows) == {str(ds.SOPInstanceUID) for ds in series}
        assert set(rows.values()) == {"SIMCASE-SEND"}


def test_send_says_why_when_nobody_listens_or_nothing_to_send(tmp_path: Path) -> None:
    write(mr_series(1), tmp_path / "one")
    runner = CliRunner()
    refused = runner.invoke(app, ["send", str(tmp_path / "one"), "--port", str(free_port())])
    assert refused.exit_code == 1
    assert "no association with SIMCASE at 127.0.0.1" in refused.output
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.txt").write_text("x")
    nothing = runner.invoke(app, ["send", str(tmp_path / "empty")])
    assert nothing.exit_code == 1
    assert "no DICOM files" in nothing.output


def test_presentation_contexts_follow_the_files(tmp_path: Path) -> None:
    from plugin.cli.send import dicom_files, presentation_contexts

    mr = mr_series(2)
    write(mr, tmp_path)
    files, skipped = dicom_files(tmp_path)
    assert skipped == 0 and len(files) == 2
    contexts = presentation_contexts(files)
    assert list(contexts) == [str(mr[0].SOPClassUID)]
    assert contexts[str(mr[0].SOPClassUID)][0] == ExplicitVRLittleEndian
    assert "1.2.840.10008.1.2" in contexts[str(mr[0].SOPClassUID)]  # implicit VR too
