"""process_study's named steps (load -> answer -> deliver -> record) with in-memory fakes:
a list of instances for the source, MemoryStore, stand-in models, a recording sender
or the folder sender, and MemoryResultsLog."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset

from dicom_conversion import StudyVolumes
from indexer.pipeline import ModelSet
from indexer.results_log import MemoryResultsLog, ResultRecord
from indexer.store import CaseEntry, MemoryStore
from plugin.errors import SendError
from plugin.processing import ProcessOutcome, Skipped, StudyServices, answer_study
from plugin.processing.answer import answer
from plugin.processing.load import LoadedStudy, load
from plugin.processing.steps import deliver, record
from plugin.results.folder import FolderSender
from plugin.results.sender import SendReport
from tests.unit.plugin.samples import mr_series

VERSION = "fake-1"
DIM = 4


class FakeEmbedder:
    model_version = VERSION
    dim = DIM

    def embed_case(
        self, study: StudyVolumes, mask: np.ndarray, *, channels: np.ndarray | None = None
    ) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)


class FakeSegmenter:
    def __init__(self, tumour: bool = True) -> None:
        self.tumour = tumour

    def segment(self, study: StudyVolumes, *, channels: np.ndarray | None = None) -> np.ndarray:
        mask = np.zeros(study.shape, dtype=np.uint8)
        if self.tumour:
            mask[10:20, 12:22, 2:6] = 2
            mask[13:17, 15:19, 3:5] = 3
        return mask


class ListSource:
    def __init__(self, instances: Sequence[Dataset | Skipped]) -> None:
        self.items = list(instances)

    def instances(self, study_instance_uid: str) -> list[Dataset | Skipped]:
        return list(self.items)


class RecordingSender:
    destination = "dicom://PACS@pacs:104"

    def __init__(self) -> None:
        self.sent: list[list[Dataset]] = []

    def send(self, datasets: Sequence[Dataset]) -> SendReport:
        self.sent.append(list(datasets))
        return SendReport(self.destination, tuple(str(d.SOPInstanceUID) for d in datasets), 1)


def archive() -> MemoryStore:
    store = MemoryStore()
    store.register_model(VERSION, DIM)
    cases = [
        ("near", "glioma", "P-1", [1.0, 0.1, 0.0, 0.0]),
        ("far", "metastasis", "P-2", [0.0, 1.0, 0.0, 0.0]),
        ("own-patient", "glioma", "QP-0001", [1.0, 0.0, 0.0, 0.0]),
    ]
    for case_id, diagnosis, patient, vector in cases:
        entry = CaseEntry(case_id, diagnosis, patient_id=patient, tumour={"volume_ml": 3.0})
        store.upsert(entry, VERSION, np.asarray(vector))
    return store


def models(tumour: bool = True) -> ModelSet:
    return ModelSet(embedder=FakeEmbedder(), segmenter=FakeSegmenter(tumour))


def study() -> list[Dataset]:
    return mr_series(8, rows=32, columns=32)


def services(instances: Sequence[Dataset | Skipped], **overrides: object) -> StudyServices:
    base = StudyServices(
        source=ListSource(instances),
        store=archive(),
        models=models(),
        sender=RecordingSender(),
        results=MemoryResultsLog(),
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def test_load_screens_instances_and_leaves_out_simcase_objects() -> None:
    series = study()
    uid = str(series[0].StudyInstanceUID)
    own = mr_series(1, study_uid=uid)[0]
    own.Manufacturer = "simcase"
    other = mr_series(1)[0]
    broken = Skipped("?", "file-7", "unreadable file (InvalidDicomError)")
    loaded = load(uid, ListSource([*series, own, other, broken]))
    assert [ds.SOPInstanceUID for ds in loaded.datasets] == [ds.SOPInstanceUID for ds in series]
    assert [s.reason for s in loaded.skipped] == [
        "belongs to another study",
        "unreadable file (InvalidDicomError)",
    ]
    assert loaded.patient_id == "QP-0001"
    reordered = load(uid, ListSource(series[::-1]))
    assert reordered.content_hash == loaded.content_hash
    assert load(uid, ListSource([])).patient_id is None


def test_answer_shows_similar_cases_never_the_patients_own() -> None:
    series = study()
    loaded = LoadedStudy(str(series[0].StudyInstanceUID), series, [])
    stages: list[str] = []
    answered = answer(loaded, archive(), models(), uid_seed="seed", lap=stages.append)
    assert "own-patient" not in answered.shown_case_ids
    assert answered.shown_case_ids[:2] == ["near", "far"]
    assert [str(ds.Modality) for ds in answered.main] == ["OT", "SR"]
    assert stages == ["load", "segment", "embed", "search", "build"]
    modalities = [str(ds.Modality) for ds in answered.complete()]
    assert modalities == ["OT", "SEG", "SR", "SR", "SR"]
    uids = {str(ds.StudyInstanceUID) for ds in answered.complete()}
    assert uids == {loaded.study_instance_uid}


def test_answer_without_a_tumour_is_a_short_report() -> None:
    series = study()
    loaded = LoadedStudy(str(series[0].StudyInstanceUID), series, [])
    answered = answer(loaded, archive(), models(tumour=False), uid_seed="seed")
    assert answered.shown_case_ids == [] and answered.outline is None
    assert [str(ds.Modality) for ds in answered.complete()] == ["SR"]


def test_answer_to_a_study_that_is_not_a_brain_mr() -> None:
    series = study()
    for ds in series:
        ds.Modality = "CT"
    loaded = LoadedStudy(str(series[0].StudyInstanceUID), series, [])
    answered = answer(loaded, archive(), models(), uid_seed="seed")
    assert answered.shown_case_ids == []
    assert [str(ds.Modality) for ds in answered.complete()] == ["SR"]


def test_the_report_is_sent_before_the_outline_objects_and_recorded_last() -> None:
    """Two batches: the montage and the report, then the outline objects, built after the
    first batch went out (their building and transfer do not delay the report); the
    record lists every object sent, the report last (later sets supersede it)."""
    series = study()
    uid = str(series[0].StudyInstanceUID)
    sender, log = RecordingSender(), MemoryResultsLog()
    services = StudyServices(ListSource(series), archive(), models(), sender, log)
    outcome = answer_study(uid, services)
    assert [[int(ds.SeriesNumber) for ds in batch] for batch in sender.sent] == [
        [9901, 9902],
        [9903, 9904, 9905],
    ]
    assert str(sender.sent[0][1].Modality) == "SR" and str(sender.sent[1][0].Modality) == "SEG"
    report_uid = str(sender.sent[0][1].SOPInstanceUID)
    sent = [str(ds.SOPInstanceUID) for batch in sender.sent for ds in batch]
    assert outcome.sop_instance_uids[-1] == report_uid and outcome.outline_missing is None
    assert sorted(outcome.sop_instance_uids) == sorted(sent)
    assert log.records[-1].sop_instance_uids == outcome.sop_instance_uids
    assert log.previous(uid, VERSION, "other content").supersedes == report_uid
    assert (
        list(outcome.cpu_s)
        == list(outcome.timings_s)
        == [
            *("load_files", "load", "segment", "embed", "search", "build", "send"),
            *("outline", "send_outline"),
        ]
    )
    assert all(seconds >= 0 for seconds in outcome.cpu_s.values())
    assert outcome.to_dict()["cpu_s"].keys() == outcome.cpu_s.keys()


class FailingSecondBatch(RecordingSender):
    """Takes the first batch, refuses every later one (the PACS went down between)."""

    def send(self, datasets: Sequence[Dataset]) -> SendReport:
        if self.sent:
            raise SendError("could not send 3 result object(s) to dicom://PACS@pacs:104")
        return super().send(datasets)


def _fail_outline(*args: object, **kwargs: object) -> list[Dataset]:
    raise RuntimeError("unexpected: Doe^Jane QP-0001")


@pytest.mark.parametrize("failure", ["build", "send"])
def test_an_outline_failing_after_the_report_is_recorded_as_missing(
    failure: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The report is out when the outline objects fail: the record lists what was sent
    (the report last, so the next set supersedes it), the outcome and the record say the
    outline is missing, and the log names UIDs only."""
    series = study()
    uid = str(series[0].StudyInstanceUID)
    sender = FailingSecondBatch() if failure == "send" else RecordingSender()
    if failure == "build":
        monkeypatch.setattr("plugin.processing.build.build_outline", _fail_outline)
    log = MemoryResultsLog()
    outcome = answer_study(uid, services(series, sender=sender, results=log))
    main = [str(ds.SOPInstanceUID) for ds in sender.sent[0]]
    assert len(sender.sent) == 1 and [str(d.Modality) for d in sender.sent[0]] == ["OT", "SR"]
    assert outcome.state == "sent" and outcome.sop_instance_uids == main
    expected = "not built (RuntimeError)" if failure == "build" else "not sent (SendError)"
    assert outcome.outline_missing == log.records[-1].outline_missing == expected
    assert log.records[-1].sop_instance_uids == main
    assert log.previous(uid, VERSION, "other content").supersedes == main[-1]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and getattr(errors[0], "study_uid", None) == uid
    assert "Doe" not in errors[0].getMessage() and "QP-0001" not in errors[0].getMessage()


def test_deliver_into_the_results_folder(tmp_path: Path) -> None:
    series = study()
    uid = str(series[0].StudyInstanceUID)
    loaded = LoadedStudy(uid, series, [])
    objects = answer(loaded, archive(), models(), uid_seed="seed").complete()
    report = deliver(objects, FolderSender(tmp_path))
    assert report.destination == str(tmp_path / uid)
    written = sorted(p.name for p in (tmp_path / uid).iterdir())
    assert written == sorted(f"{ds.SOPInstanceUID}.dcm" for ds in objects)
    with pytest.raises(ValueError, match="'datasets'"):
        FolderSender(tmp_path).send([])


def test_record_keeps_one_row_per_study_version_and_content() -> None:
    log = MemoryResultsLog()
    first = ResultRecord("1.2.3", VERSION, "h1", "1.2.3.4", ["a", "b"], "dest")
    record(log, first)
    record(log, dataclasses.replace(first, sop_instance_uids=["c", "d"]))
    assert len(log.records) == 1
    previous = log.previous("1.2.3", VERSION, "h2")
    assert (previous.supersedes, previous.already_sent) == ("d", False)
    assert log.previous("1.2.3", VERSION, "h1").already_sent


def test_answer_study_sends_once_then_supersedes_when_the_study_changes() -> None:
    series = study()
    uid = str(series[0].StudyInstanceUID)
    sender = RecordingSender()
    log = MemoryResultsLog()
    first = answer_study(uid, services(series, sender=sender, results=log))
    assert isinstance(first, ProcessOutcome)
    assert first.state == "sent" and first.model_version == VERSION
    sent = [str(ds.SOPInstanceUID) for batch in sender.sent for ds in batch]
    assert len(sender.sent) == 2 and sorted(first.sop_instance_uids) == sorted(sent)
    assert set(first.timings_s) >= {"load_files", "load", "segment", "embed", "search", "send"}
    assert log.records[0].shown_case_ids == first.shown_case_ids
    assert log.records[0].destination == RecordingSender.destination
    again = answer_study(uid, services(series, sender=sender, results=log))
    assert again.state == "unchanged" and len(sender.sent) == 2
    added = mr_series(2, study_uid=uid, series_number=9, seed=1)
    changed = answer_study(uid, services([*series, *added], sender=sender, results=log))
    assert changed.state == "sent" and len(sender.sent) == 4
    assert log.records[-1].supersedes == first.sop_instance_uids[-1]


def test_answer_study_without_usable_input_sends_nothing(tmp_path: Path) -> None:
    own = mr_series(2)
    for ds in own:
        ds.Manufacturer = "simcase"
    uid = str(own[0].StudyInstanceUID)
    outcome = answer_study(uid, services(own, sender=FolderSender(tmp_path)))
    assert (outcome.state, outcome.sop_instance_uids) == ("no-input", [])
    assert not any(tmp_path.iterdir())


def test_answer_study_saved_into_the_folder(tmp_path: Path) -> None:
    series = study()
    uid = str(series[0].StudyInstanceUID)
    outcome = answer_study(uid, services(series, sender=FolderSender(tmp_path)))
    assert outcome.state == "saved"
    assert len(list((tmp_path / uid).glob("*.dcm"))) == len(outcome.sop_instance_uids)
