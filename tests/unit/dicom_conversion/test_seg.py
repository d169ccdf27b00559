"""DICOM SEG of the BraTS labels: write with highdicom, read back onto the study grid."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dicom_conversion import (
    MRSequence,
    SegmentationError,
    StudyInfo,
    load_study,
    read_seg,
    save_series,
    write_mr_series,
    write_seg,
)
from dicom_conversion.seg import label_counts
from tests.helpers.tools import require_tool
from tests.unit.dicom_conversion.helpers import canonical_case

STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.2")


def _case(rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)):  # type: ignore[no-untyped-def]
    volume, affine = canonical_case(shape=(16, 18, 10), rotation_deg=rotation)
    images = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T1C,
        study=STUDY,
        series_number=3,
        series_description="t1_mprage_tra +C",
    )
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[4:9, 5:11, 3:7] = 2
    mask[5:8, 6:10, 4:6] = 3
    mask[6, 7, 4] = 1
    return volume, affine, images, mask


@pytest.mark.parametrize("rotation", [(0.0, 0.0, 0.0), (12.0, -7.0, 20.0)])
def test_seg_round_trip_through_load_study(rotation: tuple[float, float, float]) -> None:
    _, _, images, mask = _case(rotation)
    _, affine = canonical_case(shape=(16, 18, 10), rotation_deg=rotation)
    seg = write_seg(mask, affine, images)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == [
        "Necrotic tumour core",
        "Peritumoural oedema",
        "Enhancing tumour",
    ]
    study = load_study([*images, seg])
    assert study.mask is not None
    assert np.array_equal(study.mask, mask)
    assert np.array_equal(read_seg(seg, study), mask)


def test_seg_with_some_labels_keeps_their_meaning() -> None:
    _, affine, images, mask = _case()
    mask[mask == 2] = 0
    seg = write_seg(mask, affine, images)
    assert len(seg.SegmentSequence) == 2
    study = load_study([*images, seg])
    assert study.mask is not None and set(np.unique(study.mask)) == {0, 1, 3}


def test_empty_or_foreign_labels_are_refused() -> None:
    _, affine, images, mask = _case()
    with pytest.raises(SegmentationError, match="empty"):
        write_seg(np.zeros_like(mask), affine, images)
    mask[0, 0, 0] = 7
    with pytest.raises(SegmentationError, match="7"):
        write_seg(mask, affine, images)


def test_seg_validates_with_dciodvfy(tmp_path: Path) -> None:
    dciodvfy = require_tool("dciodvfy", "apt-get install dicom3tools")
    _, affine, images, mask = _case()
    seg = write_seg(mask, affine, images)
    path = tmp_path / "seg.dcm"
    seg.save_as(path, enforce_file_format=True)
    save_series(images, tmp_path / "images")
    result = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert not errors, result.stderr
    assert pydicom.dcmread(path).Modality == "SEG"


def test_segments_carry_the_snomed_type_of_their_region() -> None:
    _, affine, images, mask = _case()
    seg = write_seg(mask, affine, images)
    types = [s.SegmentedPropertyTypeCodeSequence[0].CodeValue for s in seg.SegmentSequence]
    assert types == ["6574001", "79654002", "108369006"]  # SCT necrosis, oedema, neoplasm
    assert {s.SegmentedPropertyCategoryCodeSequence[0].CodeValue for s in seg.SegmentSequence} == {
        "49755003"  # SCT morphologically abnormal structure
    }


@pytest.mark.parametrize("rotation", [(0.0, 0.0, 0.0), (12.0, -7.0, 20.0)])
def test_seg_on_the_source_frames_references_each_source_slice(
    rotation: tuple[float, float, float],
) -> None:
    _, affine, images, mask = _case(rotation)
    seg = write_seg(mask, affine, images, on_source_frames=True, tracking_uids={3: "1.2.3.4"})
    sop_uids = {str(ds.SOPInstanceUID) for ds in images}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0]
        assert source.ReferencedSOPInstanceUID in sop_uids
    assert seg.SegmentSequence[2].TrackingUID == "1.2.3.4"
    study = load_study([*images, seg])
    assert study.mask is not None
    assert np.array_equal(read_seg(seg, study), mask)


@pytest.mark.parametrize("top", [5, 300])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.bool_, np.int16, np.int32])
def test_label_counts_are_those_of_np_unique(dtype: type, top: int) -> None:
    rng = np.random.default_rng(3)
    low = -2 if np.dtype(dtype).kind == "i" else 0
    mask = rng.integers(low, top, size=(9, 8, 7)) % (256 if dtype is np.uint8 else 1000)
    mask = mask.astype(dtype)
    labels, counts = np.unique(mask, return_counts=True)
    expected = {int(v): int(n) for v, n in zip(labels, counts, strict=True)}
    found = label_counts(mask)
    assert found == expected
    assert list(found) == sorted(expected)
    assert label_counts(np.zeros((0, 3), dtype=dtype)) == {}
