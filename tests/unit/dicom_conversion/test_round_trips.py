"""Volume -> DICOM series -> volume, and volume -> NIfTI -> volume, are exact."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dicom_conversion import (
    MRSequence,
    StudyInfo,
    StudyVolumes,
    load_series,
    read_brats_case,
    read_nifti,
    read_series_nifti,
    save_series,
    write_brats_case,
    write_mr_series,
    write_nifti,
    write_series_nifti,
)
from tests.helpers.tools import require_tool
from tests.unit.dicom_conversion.helpers import canonical_case

GEOMETRIES = [
    pytest.param("axial", (0.0, 0.0, 0.0), id="axial"),
    pytest.param("coronal", (0.0, 0.0, 0.0), id="coronal"),
    pytest.param("sagittal", (0.0, 0.0, 0.0), id="sagittal"),
    pytest.param("axial", (17.0, -9.0, 12.0), id="oblique-axial"),
    pytest.param("sagittal", (-8.0, 21.0, 5.0), id="oblique-sagittal"),
]
STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.1", patient_id="SP-TEST")


@pytest.mark.parametrize(("orientation", "rotation"), GEOMETRIES)
def test_dicom_round_trip_is_exact_in_any_file_order(
    orientation: str, rotation: tuple[float, float, float]
) -> None:
    volume, affine = canonical_case(rotation_deg=rotation)
    datasets = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T2,
        study=STUDY,
        series_number=4,
        series_description="t2_tse_tra",
        orientation=orientation,  # type: ignore[arg-type]
    )
    random.Random(7).shuffle(datasets)
    series = load_series(datasets)
    array, back = series.canonical()
    assert np.array_equal(array, volume)
    np.testing.assert_allclose(back, affine, atol=1e-4)
    assert series.sequence is MRSequence.T2
    assert series.series_instance_uid == datasets[0].SeriesInstanceUID
    assert series.frame_of_reference_uid == STUDY.frame_of_reference()


def test_dicom_round_trip_through_files(tmp_path: Path) -> None:
    volume, affine = canonical_case(rotation_deg=(5.0, 0.0, -7.0))
    datasets = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.FLAIR,
        study=STUDY,
        series_number=5,
        series_description="t2_tirm_tra_dark-fluid",
    )
    paths = save_series(datasets, tmp_path / "flair")
    read = [pydicom.dcmread(p) for p in reversed(paths)]
    series = load_series(read)
    array, back = series.canonical()
    assert np.array_equal(array, volume)
    np.testing.assert_allclose(back, affine, atol=1e-4)
    assert series.sequence is MRSequence.FLAIR


def test_written_slices_are_independent() -> None:
    volume, affine = canonical_case()
    datasets = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T1,
        study=STUDY,
        series_number=2,
        series_description="t1",
    )
    datasets[0].PatientName = "Changed"
    assert datasets[1].PatientName == "Anonymous^Patient"
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)


def test_non_integer_volume_is_rescaled_within_quantisation() -> None:
    volume, affine = canonical_case()
    volume = volume / 7.3
    datasets = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T1,
        study=STUDY,
        series_number=2,
        series_description="t1",
    )
    array, _ = load_series(datasets).canonical()
    step = float(datasets[0].RescaleSlope)
    assert np.abs(array - volume).max() <= step / 2 + 1e-3


@pytest.mark.parametrize("sequence", [MRSequence.T1C, MRSequence.FLAIR])
def test_written_series_validates_with_dciodvfy(tmp_path: Path, sequence: MRSequence) -> None:
    dciodvfy = require_tool("dciodvfy", "apt-get install dicom3tools")
    volume, affine = canonical_case(shape=(8, 9, 3))
    datasets = write_mr_series(
        volume,
        affine,
        sequence=sequence,
        study=STUDY,
        series_number=3,
        series_description="validate",
    )
    path = save_series(datasets[:1], tmp_path)[0]
    result = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert not errors, result.stderr


@pytest.mark.parametrize("rotation", [(0.0, 0.0, 0.0), (10.0, 20.0, -30.0)])
def test_nifti_round_trip(tmp_path: Path, rotation: tuple[float, float, float]) -> None:
    volume, affine = canonical_case(rotation_deg=rotation)
    path = write_nifti(volume, affine, tmp_path / "v.nii.gz")
    array, back = read_nifti(path)
    assert np.array_equal(array, volume)
    np.testing.assert_allclose(back, affine, atol=1e-4)


def test_series_nifti_round_trip(tmp_path: Path) -> None:
    volume, affine = canonical_case(rotation_deg=(0.0, 12.0, 0.0))
    datasets = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T1,
        study=STUDY,
        series_number=2,
        series_description="t1",
        orientation="coronal",
    )
    series = load_series(datasets)
    path = write_series_nifti(series, tmp_path / "s.nii")
    again = read_series_nifti(path, sequence=MRSequence.T1)
    array, back = again.canonical()
    assert np.array_equal(array, volume)
    np.testing.assert_allclose(back, affine, atol=1e-4)
    np.testing.assert_allclose(
        again.volume.affine, series.canonical()[1] * [[-1], [-1], [1], [1]], atol=1e-4
    )


def test_brats_case_round_trip(tmp_path: Path) -> None:
    volume, affine = canonical_case()
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[3:6, 4:8, 2:5] = 2
    mask[4, 5, 3] = 3
    study = StudyVolumes(
        arrays={MRSequence.T1C: volume, MRSequence.FLAIR: volume + 1}, affine=affine, mask=mask
    )
    case_dir = write_brats_case(study, tmp_path, "CASE-1")
    assert sorted(p.name for p in case_dir.iterdir()) == [
        "CASE-1-seg.nii.gz",
        "CASE-1-t1c.nii.gz",
        "CASE-1-t2f.nii.gz",
    ]
    back = read_brats_case(case_dir)
    assert back.case_id == "CASE-1"
    assert back.missing == [MRSequence.T1, MRSequence.T2]
    assert np.array_equal(back.arrays[MRSequence.FLAIR], volume + 1)
    assert back.mask is not None and np.array_equal(back.mask, mask)
    np.testing.assert_allclose(back.affine, affine, atol=1e-5)


def test_legacy_brats_names(tmp_path: Path) -> None:
    volume, affine = canonical_case()
    case_dir = tmp_path / "BraTS20_Training_001"
    for suffix in ("t1", "t1ce", "t2", "flair"):
        write_nifti(volume.astype(np.int16), affine, case_dir / f"{case_dir.name}_{suffix}.nii.gz")
    seg = np.zeros(volume.shape, dtype=np.uint8)
    seg[1, 1, 1] = 4
    write_nifti(seg, affine, case_dir / f"{case_dir.name}_seg.nii.gz")
    study = read_brats_case(case_dir)
    assert list(study.arrays) == MRSequence.ordered()
    assert study.mask is not None and study.mask[1, 1, 1] == 3


def test_canonical_convention_k_is_superior() -> None:
    volume, affine = canonical_case(rotation_deg=(15.0, 0.0, 0.0))
    study = StudyVolumes(arrays={MRSequence.T1: volume}, affine=affine)
    up = study.affine[:3, :3] @ np.array([0.0, 0.0, 1.0])
    assert np.argmax(np.abs(up)) == 2 and up[2] > 0
    np.testing.assert_allclose(study.affine_lps()[:2], -study.affine[:2])
    np.testing.assert_allclose(study.spacing, (1.0, 1.2, 2.5))
