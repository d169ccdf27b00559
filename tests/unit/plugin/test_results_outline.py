"""The optional outline objects: a SEG of the query's tumour and its TID 1500 volumes."""

from __future__ import annotations

import numpy as np
import pytest
from highdicom.seg import Segmentation
from pydicom import Dataset
from pydicom.uid import Comprehensive3DSRStorage, SegmentationStorage

from dicom_conversion.series_loading import load_series
from dicom_conversion.volumes import StudyVolumes
from plugin.results.build import QueryOutline, build_outline
from plugin.results.segmentation import COMPARTMENTS, compartment_volumes_ml
from tests.unit.plugin.result_samples import hits_for, outline_for, results_for
from tests.unit.plugin.samples import mr_series


def build(source: list[Dataset], outline: QueryOutline | None) -> list[Dataset]:
    return results_for(
        source,
        hits_for(3),
        np.random.default_rng(1).random((64, 64)),
        uid_seed="study|emb-test-1|hash",
        outline=outline,
    )


def walk(items: object) -> list[Dataset]:
    out: list[Dataset] = []
    for item in items:  # type: ignore[attr-defined]
        out.append(item)
        if "ContentSequence" in item:
            out.extend(walk(item.ContentSequence))
    return out


def test_outline_adds_seg_and_measurement_reports_before_the_report() -> None:
    source = mr_series(5)
    outline = outline_for(source)
    sc, seg, measurements, similar, report = build(source, outline)
    assert seg.SOPClassUID == SegmentationStorage
    assert measurements.SOPClassUID == Comprehensive3DSRStorage
    assert similar.SOPClassUID == Comprehensive3DSRStorage
    assert similar.SeriesDescription.startswith("simcase similar-case list TID 1500")
    assert report.SeriesDescription.startswith("simcase similar cases report")
    for ds in (seg, measurements, similar):
        assert ds.Manufacturer == "simcase"
        assert ds.SoftwareVersions == "emb-test-1"
        assert "not for diagnostic use" in ds.SeriesDescription
        assert ds.StudyInstanceUID == source[0].StudyInstanceUID
        assert ds.SeriesDate and ds.SeriesTime
        assert ds.PatientID == source[0].PatientID
    assert len({ds.SeriesInstanceUID for ds in (sc, seg, measurements, similar, report)}) == 5


def test_seg_has_one_segment_per_compartment_on_the_source_frames() -> None:
    source = mr_series(5)
    outline = outline_for(source)
    seg, _ = build_outline(outline, "emb-test-1", uid_seed="x")
    labels = [str(item.SegmentLabel) for item in seg.SegmentSequence]
    assert labels == [c.name for c in COMPARTMENTS]
    types = [item.SegmentedPropertyTypeCodeSequence[0].CodeValue for item in seg.SegmentSequence]
    assert types == ["6574001", "79654002", "108369006"]  # SCT necrosis, oedema, neoplasm
    assert seg.SegmentationType == "BINARY"
    sop_uids = {str(ds.SOPInstanceUID) for ds in source}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        ref = frame.DerivationImageSequence[0].SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID in sop_uids
    # Read back onto the study grid: the same mask.
    array, affine = load_series(source).canonical()
    study = StudyVolumes(arrays={}, affine=affine, mask=np.zeros(array.shape, np.uint8))
    from dicom_conversion.seg import read_seg

    back = read_seg(Segmentation.from_dataset(seg, copy=True), study)
    np.testing.assert_array_equal(back, outline.mask)


def test_measurement_report_states_each_volume_and_references_the_seg() -> None:
    source = mr_series(5)
    outline = outline_for(source)
    seg, measurements = build_outline(outline, "emb-test-1", uid_seed="x")
    expected = compartment_volumes_ml(outline.mask, outline.affine_ras)
    items = walk(measurements.ContentSequence)
    volumes = [
        float(i.MeasuredValueSequence[0].NumericValue)
        for i in items
        if i.get("ValueType") == "NUM" and i.ConceptNameCodeSequence[0].CodeValue == "118565006"
    ]
    assert volumes == pytest.approx([round(expected[c.label], 3) for c in COMPARTMENTS])
    segment_refs = [
        i.ReferencedSOPSequence[0]
        for i in items
        if i.get("ValueType") == "IMAGE" and "ReferencedSegmentNumber" in i.ReferencedSOPSequence[0]
    ]
    assert [int(r.ReferencedSegmentNumber) for r in segment_refs] == [1, 2, 3]
    assert {r.ReferencedSOPInstanceUID for r in segment_refs} == {seg.SOPInstanceUID}
    assert measurements.ContentTemplateSequence[0].TemplateIdentifier == "1500"


def test_only_present_compartments_and_empty_mask_gives_no_outline() -> None:
    source = mr_series(4)
    outline = outline_for(source)
    only_oedema = QueryOutline(
        np.where(outline.mask == 2, 2, 0).astype(np.uint8),
        outline.affine_ras,
        outline.series,
        "given",
    )
    seg, _ = build_outline(only_oedema, "emb-test-1")
    assert [str(i.SegmentLabel) for i in seg.SegmentSequence] == ["Peritumoural oedema"]
    empty = QueryOutline(np.zeros_like(outline.mask), outline.affine_ras, outline.series, "given")
    assert build_outline(empty, "emb-test-1") == []


def test_outline_uids_are_reproducible_per_seed() -> None:
    source = mr_series(3)
    first = build_outline(outline_for(source), "v", uid_seed="s")
    second = build_outline(outline_for(source), "v", uid_seed="s")
    assert [d.SOPInstanceUID for d in first] == [d.SOPInstanceUID for d in second]


def test_mask_on_another_grid_is_skipped() -> None:
    source = mr_series(4)
    outline = outline_for(source)
    coarser = outline.affine_ras.copy()
    coarser[:3, :3] *= 2.0  # a 2 mm grid over 1 mm slices: would need resampling
    wrong = QueryOutline(outline.mask, coarser, outline.series, "given")
    assert build_outline(wrong, "emb-test-1") == []
