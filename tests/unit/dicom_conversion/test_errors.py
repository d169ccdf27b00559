"""Bad input always ends in a precise ConversionError, never another exception."""

from __future__ import annotations

import copy
import io
import logging
import random

import numpy as np
import pydicom
import pytest
from pydicom import Dataset
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian

from dicom_conversion import (
    ConflictingDuplicateSliceError,
    ConversionError,
    InconsistentSpacingError,
    MissingSliceError,
    MixedOrientationError,
    MixedSeriesError,
    MixedSizeError,
    MRSequence,
    NotAnImageError,
    PixelDataError,
    StudyInfo,
    UnreadableFileError,
    load_series,
    load_study,
    read_dicom_file,
    write_mr_series,
)
from tests.unit.dicom_conversion.helpers import canonical_case

MR_SMALL_VARIANTS = [
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "MR_small_implicit.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_padded.dcm",
]
STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.4")


def _path(name: str) -> str:
    path = get_testdata_file(name)
    assert path is not None, name
    return str(path)


def _reference() -> np.ndarray:
    ds = pydicom.dcmread(_path("MR_small.dcm"))
    return np.asarray(ds.pixel_array, dtype=np.float32)


@pytest.mark.parametrize("name", MR_SMALL_VARIANTS)
def test_every_mr_small_variant_decodes_to_the_same_pixels(name: str) -> None:
    series = load_series([pydicom.dcmread(_path(name))])
    assert series.volume.array.shape == (1, 64, 64)
    assert np.array_equal(series.volume.array[0], _reference())


def test_deflated_transfer_syntax_decodes() -> None:
    ds = pydicom.dcmread(_path("MR_small.dcm"))
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=True)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    again = read_dicom_file(buffer)
    assert again.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert np.array_equal(load_series([again]).volume.array[0], _reference())


def test_truncated_file_is_a_pixel_data_error() -> None:
    ds = pydicom.dcmread(_path("MR_truncated.dcm"))
    with pytest.raises(PixelDataError, match="truncated"):
        load_series([ds])


def test_random_corruptions_only_ever_raise_conversion_errors() -> None:
    data = bytearray(open(_path("MR_small.dcm"), "rb").read())
    rng = random.Random(20261123)
    outcomes = {"ok": 0, "error": 0}
    for trial in range(120):
        corrupted = bytearray(data)
        if trial % 3 == 0:
            corrupted = corrupted[: rng.randrange(0, len(corrupted))]
        else:
            for _ in range(rng.randrange(1, 12)):
                position = rng.randrange(128, min(len(corrupted), 1400))
                corrupted[position] = rng.randrange(256)
        try:
            ds = read_dicom_file(io.BytesIO(bytes(corrupted)))
            load_series([ds])
            load_study([ds])
            outcomes["ok"] += 1
        except ConversionError:
            outcomes["error"] += 1
    assert outcomes["error"] > 20


def test_non_dicom_bytes_are_unreadable() -> None:
    with pytest.raises(UnreadableFileError):
        read_dicom_file(io.BytesIO(b"just some text, not DICOM at all" * 10))


def _series(**kwargs: object) -> list[Dataset]:
    volume, affine = canonical_case(shape=(6, 7, 8))
    return write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T1,
        study=STUDY,
        series_number=1,
        series_description="t1",
        **kwargs,  # type: ignore[arg-type]
    )


def test_missing_slice_names_the_gap() -> None:
    datasets = _series()
    del datasets[3]
    with pytest.raises(MissingSliceError, match=datasets[0].SeriesInstanceUID):
        load_series(datasets)


def test_exact_duplicates_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    datasets = _series()
    with caplog.at_level(logging.WARNING):
        series = load_series([*datasets, datasets[2]])
    assert series.volume.array.shape[0] == 8
    assert "duplicate" in caplog.text


def test_conflicting_duplicates_are_refused() -> None:
    datasets = _series()
    twin = copy.deepcopy(datasets[2])
    twin.PixelData = bytes(len(datasets[2].PixelData))
    twin.SOPInstanceUID = "1.2.3.4.5.6"
    with pytest.raises(ConflictingDuplicateSliceError):
        load_series([*datasets, twin])


def test_irregular_spacing_is_refused() -> None:
    datasets = _series()
    position = [float(v) for v in datasets[4].ImagePositionPatient]
    position[2] += 0.7
    datasets[4].ImagePositionPatient = position
    with pytest.raises(InconsistentSpacingError):
        load_series(datasets)


def test_mixed_orientations_sizes_and_series_are_refused() -> None:
    datasets = _series()
    datasets[1].ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    with pytest.raises(MixedOrientationError, match=datasets[0].SeriesInstanceUID):
        load_series(datasets)
    datasets = _series()
    datasets[1].Rows = 5
    with pytest.raises(MixedSizeError):
        load_series(datasets)
    datasets = _series()
    datasets[1].PixelSpacing = [2.0, 2.0]
    with pytest.raises(MixedSizeError):
        load_series(datasets)
    datasets = _series()
    datasets[1].SeriesInstanceUID = "1.2.3"
    with pytest.raises(MixedSeriesError):
        load_series(datasets)


def test_non_images_are_refused() -> None:
    datasets = _series()
    del datasets[0].PixelData
    with pytest.raises(NotAnImageError, match="no pixel data"):
        load_series(datasets)
    datasets = _series()
    del datasets[0].ImageOrientationPatient
    with pytest.raises(NotAnImageError, match="ImageOrientationPatient"):
        load_series(datasets)
