"""One bad instance never sinks a valid study: checked at the door, skipped in processing."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pydicom.datadict
import pytest
from pydicom import Dataset
from pydicom.dataelem import RawDataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.tag import Tag

from dicom_conversion.fast_reading import read_dataset_bytes
from dicom_conversion.pixel_decoding import decode_all_fast
from indexer.jobs import readable_error
from plugin.dicom.instance_checks import (
    fill_study_attributes,
    instance_problem,
    repair_dates,
    uid_text,
)
from plugin.processing import Skipped, screen_instances, skipped_facts
from plugin.results import build_results
from tests.unit.plugin.result_samples import hits_for, query_for
from tests.unit.plugin.samples import mr_series


def _set(keyword: str, value: object) -> Callable[[Dataset], None]:
    def mutate(ds: Dataset) -> None:
        with warnings.catch_warnings():  # pydicom warns about invalid values, as it should
            warnings.simplefilter("ignore")
            setattr(ds, keyword, value)

    return mutate


def _results(usable: list[Dataset], facts: tuple[tuple[str, str], ...] = ()) -> list[Dataset]:
    """The whole result set of a query made of ``usable``, with ``facts`` in its report."""
    return build_results(
        query_for(usable, extra=facts),
        hits_for(3),
        per_diagnosis=None,
        source_datasets=usable,
        model_version="m1",
        query_image=np.zeros((64, 64), np.uint8),
        hit_images={},
        supersedes=None,
    )


def _del(keyword: str) -> Callable[[Dataset], None]:
    return lambda ds: delattr(ds, keyword)


BAD: dict[str, tuple[Callable[[Dataset], None], str]] = {
    "no SOPInstanceUID": (_del("SOPInstanceUID"), "no SOPInstanceUID"),
    "no SOPClassUID": (_del("SOPClassUID"), "no SOPClassUID"),
    "traversal study": (_set("StudyInstanceUID", "../../x"), "not a DICOM UID"),
    "Rows 0": (_set("Rows", 0), "Rows is 0"),
    "NaN position": (_set("ImagePositionPatient", [0.0, float("nan"), 1.0]), "finite"),
    "inf position": (_set("ImagePositionPatient", [0.0, float("inf"), 1.0]), "finite"),
    "NaN orientation": (
        _set("ImageOrientationPatient", [1, 0, 0, 0, float("nan"), 0]),
        "finite",
    ),
    "zero spacing": (_set("PixelSpacing", [0, 1]), "PixelSpacing"),
    "unknown charset": (_set("SpecificCharacterSet", "ISO_IR 999"), "SpecificCharacterSet"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_unusable_instances_are_named(name: str) -> None:
    mutate, expected = BAD[name]
    ds = mr_series(1)[0]
    mutate(ds)
    problem = instance_problem(ds)
    assert problem is not None and expected in problem


def test_valid_and_non_image_instances_pass() -> None:
    assert all(instance_problem(ds) is None for ds in mr_series(3))
    sr = mr_series(1)[0]
    for keyword in ("Rows", "Columns", "PixelData", "ImagePositionPatient"):
        delattr(sr, keyword)
    assert instance_problem(sr) is None


def test_iso_dates_are_repaired_and_garbage_dropped() -> None:
    ds = mr_series(1)[0]
    _set("StudyDate", "2026-01-02")(ds)
    _set("StudyTime", "10:11:12")(ds)
    _set("SeriesDate", "yesterday")(ds)
    assert sorted(repair_dates(ds)) == ["SeriesDate", "StudyDate", "StudyTime"]
    assert (ds.StudyDate, ds.StudyTime) == ("20260102", "101112")
    assert "SeriesDate" not in ds
    assert repair_dates(ds) == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_one_bad_instance_does_not_sink_the_results(name: str) -> None:
    """Before: build_results failed with AttributeError/ValueError for the whole study."""
    series = mr_series(6)
    study_uid = str(series[0].StudyInstanceUID)
    BAD[name][0](series[0])  # the first instance: the one results copy attributes from
    _set("StudyDate", "2026-01-02")(series[1])  # ISO date: repaired, not refused
    usable, skipped = screen_instances(
        [*series, Skipped("?", "file7", "unreadable file")], study_uid
    )
    assert len(usable) == 5
    assert [s.reason for s in skipped][-1] == "unreadable file"
    facts = skipped_facts(usable, skipped)
    assert facts[0][0] == "skipped instances" and facts[0][1].startswith("2: ")
    objects = _results(usable, facts)
    texts = [str(e.value) for e in objects[-1].iterall() if e.keyword == "TextValue"]
    assert any(t.startswith("skipped instances: 2: ") for t in texts)


def test_a_series_whose_instances_are_all_skipped_is_named() -> None:
    good, bad = mr_series(2), mr_series(2)
    study_uid = str(good[0].StudyInstanceUID)
    for ds in bad:
        ds.StudyInstanceUID = study_uid
        _set("Rows", 0)(ds)
    usable, skipped = screen_instances([*good, *bad], study_uid)
    assert usable == good
    facts = dict(skipped_facts(usable, skipped))
    assert facts["skipped series"] == str(bad[0].SeriesInstanceUID)


def test_job_errors_are_short_and_readable() -> None:
    try:
        mr_series(1)[0].NoSuchAttribute  # noqa: B018
    except AttributeError as exc:
        text = readable_error(exc)
    assert text.startswith("internal error (AttributeError): ")
    assert "\n" not in readable_error(ValueError("a\nb\n" + "x" * 1000))
    assert len(readable_error(ValueError("x" * 1000))) == 300


@pytest.mark.parametrize(
    "mutate",
    [
        *(_del(k) for k in ("StudyDate", "StudyTime", "PatientID", "PatientName", "StudyID")),
        _set("StudyDate", "yesterday"),  # dropped by repair_dates
        _set("SpecificCharacterSet", ""),
        _set("SpecificCharacterSet", " "),
    ],
)
def test_missing_type2_study_attributes_do_not_sink_the_results(
    mutate: Callable[[Dataset], None],
) -> None:
    """Found by tests/integration/plugin/test_malformed_at_scale.py: highdicom's SR needs
    the evidence's patient and study attributes; before, the job failed with
    ``internal error (AttributeError): 'Dataset' object has no attribute 'StudyDate'``
    (or ``'' is not a valid SpecificCharacterSetValues``)."""
    series = mr_series(4)
    mutate(series[0])  # the first instance: the one results copy attributes from
    loaded: list[Dataset | Skipped] = list(series)
    usable, skipped = screen_instances(loaded, str(series[0].StudyInstanceUID))
    assert len(usable) == 4 and not skipped
    objects = _results(usable)
    assert objects[-1].StudyInstanceUID == series[0].StudyInstanceUID


def test_fill_study_attributes_adds_empty_type2_values_only() -> None:
    ds = mr_series(1)[0]
    del ds.StudyDate, ds.PatientID
    assert fill_study_attributes(ds) == ["PatientID", "StudyDate"]
    assert (ds.StudyDate, ds.PatientID, ds.PatientName) == ("", "", "Test^Query")
    assert fill_study_attributes(ds) == []
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]  # an empty first value is valid
    assert fill_study_attributes(ds) == []


def _as_received(ds: Dataset, implicit_vr: bool) -> Dataset:
    """``ds`` as the listener reads a C-STORE's data set: encoded, then walked by
    ``read_dataset_bytes`` with every element left raw."""
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = implicit_vr, True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_dataset(buffer, ds)
    received = read_dataset_bytes(buffer.getvalue(), implicit_vr=implicit_vr)
    assert received is not None
    return received


def _raw(keyword: str, value: bytes) -> Callable[[Dataset], None]:
    """Set the bytes of a DS element as a sender may (pydicom refuses such values)."""

    def mutate(ds: Dataset) -> None:
        tag = Tag(keyword)
        ds[tag] = RawDataElement(tag, "DS", len(value), value, 0, False, True)  # type: ignore[assignment]

    return mutate


RAW_BAD: dict[str, tuple[Callable[[Dataset], None], str]] = {
    **BAD,
    "text position": (_raw("ImagePositionPatient", b"0\\abc\\1 "), "finite"),
    "two-valued orientation": (_set("ImageOrientationPatient", "1\\0"), "finite"),
    "empty position": (_set("ImagePositionPatient", ""), "finite"),
    "degenerate orientation": (_set("ImageOrientationPatient", [0, 0, 0, 0, 1, 0]), "degenerate"),
    "one spacing": (_set("PixelSpacing", "1"), "PixelSpacing"),
    "blank SOPInstanceUID": (_set("SOPInstanceUID", "  "), "no SOPInstanceUID"),
    "non-ASCII series": (_set("SeriesInstanceUID", "1.2.é"), "not a DICOM UID"),
}


@pytest.mark.parametrize("implicit_vr", [False, True])
@pytest.mark.parametrize("name", sorted(RAW_BAD))
def test_raw_elements_are_checked_as_decoded_ones(name: str, implicit_vr: bool) -> None:
    """The door reads UIDs and geometry from the raw bytes of a received data set: the
    same verdict as on the decoded data set, for every bad value above."""
    mutate, expected = RAW_BAD[name]
    ds = mr_series(1)[0]
    mutate(ds)
    problem = instance_problem(_as_received(ds, implicit_vr))
    assert problem is not None and expected in problem, problem
    decoded = instance_problem(ds)
    assert decoded is not None


@pytest.mark.parametrize("implicit_vr", [False, True])
def test_valid_received_instances_pass_with_their_uids(implicit_vr: bool) -> None:
    ds = mr_series(1)[0]
    received = _as_received(ds, implicit_vr)
    assert instance_problem(received) is None
    assert uid_text(received, "SOPInstanceUID") == ds.SOPInstanceUID
    assert uid_text(received, "StudyInstanceUID") == ds.StudyInstanceUID


@pytest.mark.parametrize("implicit_vr", [False, True])
def test_iso_dates_are_repaired_in_raw_elements(implicit_vr: bool) -> None:
    """Dates and times still in pydicom's raw bytes get the same repairs; conformant ones
    are left raw (not converted)."""
    ds = mr_series(1)[0]
    _set("StudyDate", "2026-01-02")(ds)
    _set("StudyTime", "10:11:12")(ds)
    _set("SeriesDate", "yesterday")(ds)
    _set("ContentDate", "20260103")(ds)
    received = _as_received(ds, implicit_vr)
    assert sorted(repair_dates(received)) == ["SeriesDate", "StudyDate", "StudyTime"]
    assert (received.StudyDate, received.StudyTime) == ("20260102", "101112")
    assert "SeriesDate" not in received
    assert isinstance(received.get_item("ContentDate", keep_deferred=True), RawDataElement)
    assert received.ContentDate == "20260103"


@pytest.mark.parametrize("implicit_vr", [False, True])
def test_screening_leaves_the_pixel_attributes_raw(implicit_vr: bool) -> None:
    """Screening converts none of the attributes the series loader's one-pass decoding
    reads raw: after it, the series still decodes in one pass, to the same pixels."""
    originals = mr_series(4)
    series = [_as_received(ds, implicit_vr) for ds in originals]
    for ds, original in zip(series, originals, strict=True):
        ds.file_meta = original.file_meta
    usable, skipped = screen_instances(series, str(originals[0].StudyInstanceUID))
    assert (len(usable), skipped) == (4, [])
    for keyword in ("Rows", "Columns", "BitsAllocated", "PixelRepresentation", "StudyDate"):
        assert isinstance(usable[0].get_item(keyword, keep_deferred=True), RawDataElement)
    fast = decode_all_fast(usable)
    assert fast is not None
    expected = np.stack([ds.pixel_array for ds in originals])
    np.testing.assert_array_equal(fast[0], expected)


def test_screening_looks_no_keyword_up_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks name attributes by keyword, but look each keyword's tag up once, not at
    every ``keyword in ds`` of every instance (a third of the screening's time on 620
    instances); the verdicts and repairs are those of the tests above."""
    series = [_as_received(ds, implicit_vr=False) for ds in mr_series(4)]
    uid = str(series[0].StudyInstanceUID)
    screen_instances(series[:1], uid)  # each keyword's first lookup
    looked_up: list[str] = []
    lookup = pydicom.datadict.tag_for_keyword

    def counted(keyword: str) -> int | None:
        looked_up.append(keyword)
        return lookup(keyword)

    monkeypatch.setattr(pydicom.datadict, "tag_for_keyword", counted)
    usable, skipped = screen_instances(series[1:], uid)
    assert (len(usable), skipped) == (3, [])
    assert looked_up == []
