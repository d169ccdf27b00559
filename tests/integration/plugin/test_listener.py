"""The DICOM listener against real SCUs (dcmtk and pynetdicom) and a real PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, evt
from pynetdicom import _config as pynetdicom_config
from pynetdicom.sop_class import MRImageStorage, Verification  # type: ignore[attr-defined]

from plugin.dicom import STATUS_CANNOT_UNDERSTAND, STATUS_OUT_OF_RESOURCES, DicomListener
from plugin.dicom.tcp import DUL_POLL_SECONDS
from tests.integration.plugin.listener_helpers import (
    CollectingCallback,
    running_listener,
    write_files,
)
from tests.unit.plugin.samples import mr_series

pytestmark = pytest.mark.integration

DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}


@pytest.fixture
def callback() -> CollectingCallback:
    return CollectingCallback()


@pytest.fixture
def listener(
    database_url: str, tmp_path: Path, callback: CollectingCallback
) -> Iterator[DicomListener]:
    with running_listener(database_url, tmp_path / "spool", callback) as running:
        yield running


def scu(ae_title: str = "TESTSCU") -> AE:
    ae = AE(ae_title=ae_title)
    ae.add_requested_context(Verification)
    ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
    ae.add_requested_context(EncapsulatedPDFStorage, ExplicitVRLittleEndian)
    return ae


def journal_rows(database_url: str, study_uid: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database_url) as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                "SELECT sop_instance_uid, path, calling_ae FROM received_instances"
                " WHERE study_instance_uid = %s",
                (study_uid,),
            )
        ]


def test_c_echo_with_dcmtk(listener: DicomListener) -> None:
    done = subprocess.run(
        ["echoscu", "-aet", "ECHOSCU", "-aec", "SIMCASE", "127.0.0.1", str(listener.port)],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


def test_unknown_calling_ae_is_rejected_with_a_reason(listener: DicomListener) -> None:
    done = subprocess.run(
        ["echoscu", "-aet", "INTRUDER", "-aec", "SIMCASE", "127.0.0.1", str(listener.port)],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "Calling AE Title Not Recognized" in done.stderr + done.stdout

    reasons: list[int] = []
    ae = scu("INTRUDER")
    assoc = ae.associate(
        "127.0.0.1",
        listener.port,
        ae_title="SIMCASE",
        evt_handlers=[(evt.EVT_REJECTED, lambda e: reasons.append(1))],
    )
    assert assoc.is_rejected
    # and the listener still serves allowed callers
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()


def test_storescu_series_is_spooled_journalled_and_completed_once(
    listener: DicomListener, callback: CollectingCallback, database_url: str, tmp_path: Path
) -> None:
    series = mr_series(6)
    study_uid = series[0].StudyInstanceUID
    files = write_files(series, tmp_path / "in")
    done = subprocess.run(
        ["storescu", "-aet", "STORESCU", "-aec", "SIMCASE", "127.0.0.1", str(listener.port)]
        + [str(f) for f in files],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert callback.wait_for(1) == [study_uid]  # rows are committed before completion
    rows = journal_rows(database_url, study_uid)
    assert {r[0] for r in rows} == {ds.SOPInstanceUID for ds in series}
    assert {r[2] for r in rows} == {"STORESCU"}
    for sop_uid, path, _ in rows:
        spooled = dcmread(path)
        assert spooled.SOPInstanceUID == sop_uid
        assert Path(path).parent.name == series[0].SeriesInstanceUID
        assert spooled.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert callback.wait_for(1) == [study_uid]
    time.sleep(1.0)  # no second call for the same quiet period
    assert callback.studies == [study_uid]


def test_file_before_success_row_before_completion_and_late_instance_retriggers(
    listener: DicomListener, callback: CollectingCallback, database_url: str
) -> None:
    series = mr_series(3)
    study_uid = series[0].StudyInstanceUID
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert assoc.is_established
    for ds in series[:2]:
        status = assoc.send_c_store(ds)
        assert status.Status == 0x0000
        path = listener.spool.path_for(study_uid, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        assert dcmread(path).SOPInstanceUID == ds.SOPInstanceUID  # whole file, fsynced
    time.sleep(0.6)  # association still open: no completion yet
    assert callback.studies == []
    rows = {r[0]: r[1] for r in journal_rows(database_url, study_uid)}  # batched, but in
    assert sorted(rows) == sorted(ds.SOPInstanceUID for ds in series[:2])
    assoc.release()
    assert callback.wait_for(1) == [study_uid]

    late = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert late.send_c_store(series[2]).Status == 0x0000
    late.release()
    assert callback.wait_for(2) == [study_uid, study_uid]
    assert len(journal_rows(database_url, study_uid)) == 3


def test_duplicate_sop_instance_is_one_row(listener: DicomListener, database_url: str) -> None:
    series = mr_series(2)
    for _ in range(2):
        assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        for ds in series:
            assert assoc.send_c_store(ds).Status == 0x0000
        assoc.release()
    assert listener.recorder.flush()
    assert len(journal_rows(database_url, series[0].StudyInstanceUID)) == 2


def test_non_image_objects_are_stored_not_refused(
    listener: DicomListener, database_url: str
) -> None:
    study_uid = mr_series(1)[0].StudyInstanceUID
    pdf = Dataset()
    pdf.file_meta = FileMetaDataset()
    pdf.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    pdf.SOPClassUID = EncapsulatedPDFStorage
    pdf.SOPInstanceUID = generate_uid()
    pdf.StudyInstanceUID = study_uid
    pdf.SeriesInstanceUID = generate_uid()
    pdf.Modality = "DOC"
    pdf.MIMETypeOfEncapsulatedDocument = "application/pdf"
    pdf.EncapsulatedDocument = b"%PDF-1.4\n%%EOF\n"
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert assoc.send_c_store(pdf).Status == 0x0000
    assoc.release()
    assert listener.recorder.flush()
    assert len(journal_rows(database_url, study_uid)) == 1


def test_malformed_instances_fail_and_the_listener_stays_up(
    listener: DicomListener,
    callback: CollectingCallback,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1. a data set without its StudyInstanceUID
    no_study = mr_series(1)[0]
    del no_study.StudyInstanceUID
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    status = assoc.send_c_store(no_study)
    assert status.Status == STATUS_CANNOT_UNDERSTAND
    assert "StudyInstanceUID" in str(status.get("ErrorComment", ""))
    assoc.release()

    # 2. bytes that are not a data set at all, behind a valid file meta header
    good = mr_series(1)[0]
    path = write_files([good], tmp_path / "bad")[0]
    raw = path.read_bytes()
    header_end = 132 + int.from_bytes(raw[140:144], "little") + 12  # end of group 0002
    # an element that claims 32 KiB but holds 7 bytes, then nothing
    path.write_bytes(raw[:header_end] + b"\x08\x00\x18\x00UI\xff\x7f" + b"\x01" * 7)
    monkeypatch.setattr(pynetdicom_config, "STORE_SEND_CHUNKED_DATASET", True)  # send as is
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    status = assoc.send_c_store(path)
    assert status.Status in (STATUS_CANNOT_UNDERSTAND, 0xA700)
    assoc.release()

    # the next association works and nothing of the bad ones was journalled or completed
    series = mr_series(2)
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert all(assoc.send_c_store(ds).Status == 0x0000 for ds in series)
    assoc.release()
    assert callback.wait_for(1) == [series[0].StudyInstanceUID]
    assert journal_rows(database_url, good.StudyInstanceUID) == []


def test_concurrent_associations(
    listener: DicomListener, callback: CollectingCallback, database_url: str
) -> None:
    studies = [mr_series(5, seed=i) for i in range(4)]
    errors: list[str] = []

    def send(series: list[Dataset]) -> None:
        assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        if not assoc.is_established:
            errors.append("not established")
            return
        for ds in series:
            status = assoc.send_c_store(ds)
            if status.Status != 0x0000:
                errors.append(f"status {status.Status:#06x}")
        assoc.release()

    threads = [threading.Thread(target=send, args=(s,)) for s in studies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(callback.wait_for(4)) == sorted(s[0].StudyInstanceUID for s in studies)
    for series in studies:
        assert len(journal_rows(database_url, series[0].StudyInstanceUID)) == 5


def test_pending_study_from_an_earlier_run_is_completed_at_start(
    database_url: str, tmp_path: Path
) -> None:
    series = mr_series(2)
    first = CollectingCallback()
    with running_listener(database_url, tmp_path / "spool", first, debounce_seconds=30) as lst:
        assoc = scu().associate("127.0.0.1", lst.port, ae_title="SIMCASE")
        assert all(assoc.send_c_store(ds).Status == 0x0000 for ds in series)
        assoc.release()
    assert first.studies == []  # stopped before the debounce was over
    second = CollectingCallback()
    with running_listener(
        database_url, tmp_path / "spool", second, debounce_seconds=0.1, stable_seconds=0.5
    ):
        assert second.wait_for(1) == [series[0].StudyInstanceUID]
    third = CollectingCallback()
    with running_listener(
        database_url, tmp_path / "spool", third, debounce_seconds=0.1, stable_seconds=0.5
    ):
        time.sleep(1.0)
    assert third.studies == []


def test_accepted_associations_have_tcp_nodelay_and_fast_polling(
    listener: DicomListener,
) -> None:
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert assoc.is_established
    try:
        acceptors = [a for a in listener.ae.active_associations if a.is_acceptor]
        assert acceptors
        for acceptor in acceptors:
            sock = acceptor.dul.socket.socket  # type: ignore[union-attr]
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert acceptor.dul._run_loop_delay == DUL_POLL_SECONDS
    finally:
        assoc.release()


def test_listener_binds_the_configured_host(listener: DicomListener) -> None:
    """``SIMCASE_DICOM__HOST`` (here 127.0.0.1) is the only address accepting associations."""
    assert listener.host == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5):
        pass
    addresses = {
        str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    }
    addresses = {a for a in addresses if not a.startswith("127.")}
    for address in addresses:
        with pytest.raises(OSError), socket.create_connection((address, listener.port), timeout=2):
            pass


def test_spooled_instances_without_rows_are_journalled_at_start(
    database_url: str, tmp_path: Path
) -> None:
    """A crash after the acknowledgement but before the batch commit: the spool scan at
    the next start journals the file and completes its study; a partial file is removed."""
    series = mr_series(2)
    study_uid = str(series[0].StudyInstanceUID)
    first = CollectingCallback()
    with running_listener(database_url, tmp_path / "spool", first, debounce_seconds=0.1) as lst:
        spool = lst.spool
        assoc = scu().associate("127.0.0.1", lst.port, ae_title="SIMCASE")
        assert assoc.send_c_store(series[0]).Status == 0x0000
        assoc.release()
        assert first.wait_for(1) == [study_uid]
    # As if the listener had died after acknowledging series[1]: file, no row.
    orphan = spool.path_for(study_uid, series[1].SeriesInstanceUID, series[1].SOPInstanceUID)
    series[1].save_as(orphan, enforce_file_format=True)
    partial = orphan.with_name("1.2.3.999.dcm")
    partial.write_bytes(orphan.read_bytes()[:300])
    second = CollectingCallback()
    with running_listener(
        database_url, tmp_path / "spool", second, debounce_seconds=0.1, stable_seconds=0.5
    ):
        assert second.wait_for(1) == [study_uid]
    assert len(journal_rows(database_url, study_uid)) == 2
    assert not partial.exists()


def test_unusable_instances_are_refused_at_the_door_and_the_study_still_completes(
    listener: DicomListener, callback: CollectingCallback, database_url: str
) -> None:
    import warnings

    series = mr_series(4)
    study_uid = str(series[0].StudyInstanceUID)
    bad = mr_series(3, study_uid=study_uid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad[0].Rows = 0
        bad[1].ImagePositionPatient = [0.0, float("nan"), 0.0]
        bad[2].PixelSpacing = [0.0, 1.0]
    assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    statuses = [assoc.send_c_store(ds) for ds in [*series[:2], *bad, *series[2:]]]
    assoc.release()
    codes = [s.Status for s in statuses]
    assert codes == [0, 0, *[STATUS_CANNOT_UNDERSTAND] * 3, 0, 0]
    comments = [str(s.get("ErrorComment", "")) for s in statuses[2:5]]
    assert "Rows" in comments[0]
    assert "ImagePositionPatient" in comments[1]
    assert "PixelSpacing" in comments[2]
    assert callback.wait_for(1) == [study_uid]
    assert len(journal_rows(database_url, study_uid)) == 4


def test_a_sop_instance_uid_reused_in_another_study_does_not_take_over_the_first(
    listener: DicomListener, database_url: str, callback: CollectingCallback
) -> None:
    first = mr_series(2)
    other = mr_series(2, seed=1)
    other[0].SOPInstanceUID = first[0].SOPInstanceUID  # a different object, same UID
    other[0].file_meta.MediaStorageSOPInstanceUID = first[0].SOPInstanceUID
    for series in (first, other, first):  # the first study is resent at the end
        assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        for ds in series:
            assert assoc.send_c_store(ds).Status == 0x0000
        assoc.release()
    assert listener.recorder.flush()
    first_rows = journal_rows(database_url, first[0].StudyInstanceUID)
    other_rows = journal_rows(database_url, other[0].StudyInstanceUID)
    assert sorted(r[0] for r in first_rows) == sorted(ds.SOPInstanceUID for ds in first)
    assert sorted(r[0] for r in other_rows) == sorted(ds.SOPInstanceUID for ds in other)
    # each study's row names its own file, which holds that study's object
    for rows, series in ((first_rows, first), (other_rows, other)):
        for _, path, _ in rows:
            assert dcmread(path).StudyInstanceUID == series[0].StudyInstanceUID
    assert set(callback.wait_for(3)) == {first[0].StudyInstanceUID, other[0].StudyInstanceUID}


def test_a_spool_short_of_free_space_refuses_with_out_of_resources_and_writes_nothing(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    usage = os.statvfs(tmp_path)
    free_mb = usage.f_bavail * usage.f_frsize // 2**20
    callback = CollectingCallback()
    series = mr_series(2)
    with (
        caplog.at_level("ERROR", logger="plugin.dicom.listener"),
        running_listener(database_url, spool, callback, min_free_mb=free_mb + 1024) as listener,
    ):
        assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        statuses = [assoc.send_c_store(ds) for ds in series]
        assoc.release()
        assert listener.recorder.flush()
    assert [s.Status for s in statuses] == [STATUS_OUT_OF_RESOURCES] * 2
    assert statuses[0].ErrorComment.startswith("spool disk full: ")
    assert f"{free_mb + 1024} MB kept" in statuses[0].ErrorComment
    assert not list(spool.rglob("*.dcm"))
    assert journal_rows(database_url, series[0].StudyInstanceUID) == []
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2 and "spool disk full" in refused[0]
    assert callback.studies == []
    # with room to spare the same instances are kept
    with running_listener(database_url, spool, callback, min_free_mb=1) as listener:
        assoc = scu().associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        assert [assoc.send_c_store(ds).Status for ds in series] == [0x0000] * 2
        assoc.release()
        assert callback.wait_for(1) == [series[0].StudyInstanceUID]
    assert len(journal_rows(database_url, series[0].StudyInstanceUID)) == 2
