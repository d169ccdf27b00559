"""The fast file reader and the raw-element loading path agree with pydicom's general path."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dicom_conversion import (
    MissingSliceError,
    MixedOrientationError,
    MRSequence,
    StudyInfo,
    load_series,
    read_dicom_file,
    save_series,
    write_mr_series,
)
from dicom_conversion.fast_reading import read_fast
from tests.unit.dicom_conversion.helpers import canonical_case

STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.11")


@pytest.mark.parametrize(
    ("name", "fast"),
    [
        ("MR_small.dcm", True),
        ("MR_small_implicit.dcm", True),
        ("MR_small_bigendian.dcm", False),
        ("MR_small_RLE.dcm", False),
        ("MR_truncated.dcm", False),
    ],
)
def test_fast_reader_matches_dcmread_or_declines(name: str, fast: bool) -> None:
    path = Path(str(get_testdata_file(name)))
    ours = read_fast(path)
    assert (ours is not None) is fast
    if ours is not None:
        reference = pydicom.dcmread(path)
        assert set(ours.keys()) == set(reference.keys())
        for tag in reference.keys():
            assert ours[tag].value == reference[tag].value, tag
        assert ours.file_meta.TransferSyntaxUID == reference.file_meta.TransferSyntaxUID


def written_files(
    tmp_path: Path, rotation: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    volume, affine = canonical_case(shape=(16, 18, 9), rotation_deg=rotation)
    datasets = write_mr_series(
        volume / 3.0,
        affine,
        sequence=MRSequence.T2,
        study=STUDY,
        series_number=2,
        series_description="t2",
        orientation="coronal",
    )
    return volume / 3.0, affine, save_series(datasets, tmp_path)


@pytest.mark.parametrize("rotation", [(0.0, 0.0, 0.0), (9.0, -14.0, 6.0)])
def test_fast_and_general_paths_give_the_same_volume(
    tmp_path: Path, rotation: tuple[float, float, float]
) -> None:
    _, affine, paths = written_files(tmp_path, rotation)
    random.Random(3).shuffle(paths)
    fast = load_series([read_dicom_file(p) for p in paths])
    general = load_series([pydicom.dcmread(p) for p in paths])
    converted = [pydicom.dcmread(p) for p in paths]
    for ds in converted:  # touching every element forces pydicom's converted path
        for element in ds:
            _ = element.value
    slow = load_series(converted)
    for other in (general, slow):
        assert np.array_equal(fast.volume.array, other.volume.array)
        np.testing.assert_allclose(fast.volume.affine, other.volume.affine, atol=1e-9)
    array, back = fast.canonical()
    assert array.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(back, affine, atol=1e-4)


def test_fast_path_still_names_geometry_problems(tmp_path: Path) -> None:
    _, _, paths = written_files(tmp_path, (0.0, 0.0, 0.0))
    datasets = [read_dicom_file(p) for p in paths]
    with pytest.raises(MissingSliceError):
        load_series(datasets[:3] + datasets[4:])
    datasets = [read_dicom_file(p) for p in paths]
    odd = copy.deepcopy(datasets[2])
    odd.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    with pytest.raises(MixedOrientationError):
        load_series([*datasets[:2], odd, *datasets[3:]])
