"""Compressed and enhanced multi-frame series load to the same volume as the original."""

from __future__ import annotations

import copy

import highdicom as hd
import numpy as np
import pytest
from pydicom.uid import RLELossless, generate_uid

from dicom_conversion import MRSequence, StudyInfo, load_series, load_study, write_mr_series
from tests.unit.dicom_conversion.helpers import canonical_case

STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.12")


def original(rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)):  # type: ignore[no-untyped-def]
    volume, affine = canonical_case(shape=(14, 16, 7), rotation_deg=rotation)
    datasets = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.FLAIR,
        study=STUDY,
        series_number=8,
        series_description="AX FLAIR",
    )
    return volume, affine, datasets


def test_rle_compressed_series() -> None:
    volume, affine, datasets = original()
    compressed = []
    for ds in datasets:
        ds = copy.deepcopy(ds)
        ds.compress(RLELossless)
        compressed.append(ds)
    array, back = load_series(compressed[::-1]).canonical()
    assert np.array_equal(array, volume)
    np.testing.assert_allclose(back, affine, atol=1e-4)


@pytest.mark.parametrize("rotation", [(0.0, 0.0, 0.0), (11.0, 7.0, -13.0)])
def test_enhanced_multiframe_series(rotation: tuple[float, float, float]) -> None:
    volume, affine, datasets = original(rotation)
    enhanced = hd.legacy.LegacyConvertedEnhancedMRImage(
        legacy_datasets=datasets,
        series_instance_uid=generate_uid(),
        series_number=9,
        sop_instance_uid=generate_uid(),
        instance_number=1,
    )
    series = load_series([enhanced])
    array, back = series.canonical()
    assert np.array_equal(array, volume)
    np.testing.assert_allclose(back, affine, atol=1e-4)
    study = load_study([enhanced])
    assert list(study.arrays) == [MRSequence.FLAIR]
    assert np.array_equal(study.arrays[MRSequence.FLAIR], volume)
