"""simcase reads every geometry exactly as the reference converter dcm2niix writes it."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from dicom_conversion import (
    MRSequence,
    StudyInfo,
    load_series,
    load_study,
    read_dicom_folder,
    save_series,
    to_canonical,
    write_mr_series,
)
from tests.unit.dicom_conversion.helpers import canonical_case

pytestmark = pytest.mark.integration


def dcm2niix_binary() -> str:
    beside = Path(sys.executable).parent / "dcm2niix"
    found = str(beside) if beside.is_file() else shutil.which("dcm2niix")
    if found is None:
        pytest.skip("dcm2niix is not installed")
    return found


def run_dcm2niix(series_dir: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [dcm2niix_binary(), "-z", "n", "-b", "n", "-f", "%s", "-o", str(out_dir), str(series_dir)],
        check=True,
        capture_output=True,
    )
    outputs = sorted(out_dir.glob("*.nii"))
    assert len(outputs) == 1, outputs
    return outputs[0]


GEOMETRIES = [
    pytest.param("axial", (0.0, 0.0, 0.0), id="axial"),
    pytest.param("coronal", (0.0, 0.0, 0.0), id="coronal"),
    pytest.param("sagittal", (0.0, 0.0, 0.0), id="sagittal"),
    pytest.param("axial", (14.0, -8.0, 11.0), id="oblique-axial"),
    pytest.param("coronal", (6.0, 18.0, -9.0), id="oblique-coronal"),
]


@pytest.mark.parametrize(("orientation", "rotation"), GEOMETRIES)
def test_volume_and_affine_equal_dcm2niix(
    tmp_path: Path, orientation: str, rotation: tuple[float, float, float]
) -> None:
    volume, affine = canonical_case(shape=(30, 34, 18), rotation_deg=rotation, seed=3)
    datasets = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T1C,
        study=StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.7"),
        series_number=7,
        series_description="t1_mprage +C",
        orientation=orientation,  # type: ignore[arg-type]
    )
    series_dir = tmp_path / "dicom"
    paths = save_series(datasets, series_dir)
    # Files on disk in shuffled order, under names that say nothing.
    random.Random(1).shuffle(paths)
    for index, path in enumerate(paths):
        path.rename(series_dir / f"IM{index:04d}")

    reference = nib.load(str(run_dcm2niix(series_dir, tmp_path / "nifti")))
    ref_array, ref_affine = to_canonical(
        np.asarray(reference.dataobj, dtype=np.float32), np.asarray(reference.affine)
    )
    ours = load_series([pydicom.dcmread(p) for p in sorted(series_dir.iterdir())])
    array, our_affine = ours.canonical()
    assert array.shape == ref_array.shape
    assert np.array_equal(array, ref_array)
    # dcm2niix stores the affine as float32 in the NIfTI header.
    np.testing.assert_allclose(our_affine, ref_affine, atol=2e-3)
    np.testing.assert_allclose(our_affine, affine, atol=1e-4)


def test_study_folder_matches_dcm2niix_per_series(tmp_path: Path) -> None:
    volume, affine = canonical_case(shape=(30, 34, 18), seed=4)
    study = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.8")
    for number, (sequence, description) in enumerate(
        [(MRSequence.T1, "t1_mprage_tra"), (MRSequence.T2, "t2_tse_tra")], start=1
    ):
        save_series(
            write_mr_series(
                volume + number,
                affine,
                sequence=sequence,
                study=study,
                series_number=number,
                series_description=description,
            ),
            tmp_path / "study" / f"s{number}",
        )
    (tmp_path / "study" / "README.txt").write_text("not DICOM")
    contents = read_dicom_folder(tmp_path / "study")
    result = load_study(contents.datasets)
    assert list(contents.skipped) == [tmp_path / "study" / "README.txt"]
    for number, sequence in ((1, MRSequence.T1), (2, MRSequence.T2)):
        reference = nib.load(
            str(run_dcm2niix(tmp_path / "study" / f"s{number}", tmp_path / f"n{number}"))
        )
        ref_array, ref_affine = to_canonical(
            np.asarray(reference.dataobj, dtype=np.float32), np.asarray(reference.affine)
        )
        assert np.array_equal(result.arrays[sequence], ref_array)
        np.testing.assert_allclose(result.affine, ref_affine, atol=2e-3)
