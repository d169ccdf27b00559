"""A synthetic case exported as DICOM converts back to the same volumes and labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from dicom_conversion import MRSequence, load_study, read_seg
from models.synth import generate_case, plan_case
from models.synth.dicom_export import VENDORS, case_datasets, write_case_dicom

RES = 4.0


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    case = generate_case(2, 1, resolution_mm=RES)
    out = tmp_path_factory.mktemp("dicom")
    write_case_dicom(case, plan_case(2, 1), out)
    return case, out / case.case_id


def test_study_has_four_series_and_a_seg(exported: tuple[object, Path]) -> None:
    case, folder = exported
    datasets = [pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm"))]
    series = {ds.SeriesInstanceUID for ds in datasets}
    assert len(series) == 5
    assert {ds.StudyInstanceUID for ds in datasets} == {case.study.study_instance_uid}  # type: ignore[attr-defined]
    assert {str(ds.PatientID) for ds in datasets} == {case.patient_id}  # type: ignore[attr-defined]
    assert {ds.PatientSex for ds in datasets} == {case.sex}  # type: ignore[attr-defined]
    modalities = sorted({ds.Modality for ds in datasets})
    assert modalities == ["MR", "SEG"]
    mr = [ds for ds in datasets if ds.Modality == "MR"]
    assert len(mr) == 4 * case.study.shape[2]  # type: ignore[attr-defined]
    contrast = [ds for ds in mr if "ContrastBolusAgent" in ds]
    assert len(contrast) == case.study.shape[2]  # type: ignore[attr-defined]


def test_dicom_converts_back_to_the_same_volumes(exported: tuple[object, Path]) -> None:
    case, folder = exported
    datasets = [pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm"))]
    study = load_study(datasets)
    original = case.study  # type: ignore[attr-defined]
    assert study.missing == []
    assert study.shape == original.shape
    assert np.allclose(study.affine, original.affine, atol=1e-4)
    for sequence in MRSequence.ordered():
        assert np.allclose(study.arrays[sequence], original.arrays[sequence], atol=0.5), sequence
    seg = next(ds for ds in datasets if ds.Modality == "SEG")
    assert np.array_equal(read_seg(seg, study), original.mask)


def test_export_is_reproducible() -> None:
    case = generate_case(2, 1, resolution_mm=RES)
    a, seg_a = case_datasets(case, plan_case(2, 1))
    b, seg_b = case_datasets(case, plan_case(2, 1))
    assert [ds.SOPInstanceUID for ds in a] == [ds.SOPInstanceUID for ds in b]
    assert a[0].StudyDate == b[0].StudyDate and a[0].SeriesDescription == b[0].SeriesDescription
    assert seg_a.PixelData == seg_b.PixelData


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_every_vendor_style_is_recognised(vendor: str) -> None:
    case = generate_case(2, 1, resolution_mm=6.0)
    instances, _ = case_datasets(case, plan_case(2, 1), vendor=vendor)
    study = load_study(instances)
    assert study.missing == []
    assert {ds.Manufacturer for ds in instances} == {vendor}
    for sequence in MRSequence.ordered():
        assert np.allclose(study.arrays[sequence], case.study.arrays[sequence], atol=0.5)
