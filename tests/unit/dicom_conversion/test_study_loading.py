"""load_study: grouping, picking, resampling onto the reference grid, refusals."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from pydicom import Dataset

from dicom_conversion import (
    FrameOfReferenceMismatchError,
    MRSequence,
    NoUsableSeriesError,
    StudyInfo,
    load_study,
    write_mr_series,
)
from tests.unit.dicom_conversion.helpers import ras_affine

STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.3")


def linear_field(shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """An intensity that is a linear function of the RAS position (exact under trilinear)."""
    ijk = np.indices(shape).reshape(3, -1)
    xyz = affine[:3, :3] @ ijk + affine[:3, 3:4]
    values = 1000.0 + 3.0 * xyz[0] + 2.0 * xyz[1] - 1.5 * xyz[2]
    return np.round(values).reshape(shape).astype(np.float32)


def series(
    sequence: MRSequence,
    number: int,
    description: str,
    shape: tuple[int, int, int] = (20, 22, 12),
    affine: np.ndarray | None = None,
    study: StudyInfo = STUDY,
    **kwargs: object,
) -> tuple[np.ndarray, np.ndarray, list[Dataset]]:
    affine = ras_affine() if affine is None else affine
    volume = linear_field(shape, affine)
    datasets = write_mr_series(
        volume,
        affine,
        sequence=sequence,
        study=study,
        series_number=number,
        series_description=description,
        **kwargs,  # type: ignore[arg-type]
    )
    return volume, affine, datasets


def test_four_sequences_on_the_t1c_grid() -> None:
    t1c, t1c_affine, t1c_ds = series(MRSequence.T1C, 5, "t1_mprage_tra +Gd")
    coarse = ras_affine(spacing=(2.0, 2.0, 3.0), origin=(-38.0, -50.0, -28.0))
    _, _, t2_ds = series(MRSequence.T2, 3, "t2_tse_tra", shape=(12, 14, 10), affine=coarse)
    _, _, flair_ds = series(MRSequence.FLAIR, 4, "t2_tirm_tra_dark-fluid", orientation="sagittal")
    _, _, t1_ds = series(MRSequence.T1, 2, "t1_mprage_tra", orientation="coronal")
    study = load_study([*t2_ds, *flair_ds, *t1c_ds, *t1_ds])
    assert list(study.arrays) == MRSequence.ordered()
    assert study.missing == []
    np.testing.assert_allclose(study.affine, t1c_affine, atol=1e-4)
    assert np.array_equal(study.arrays[MRSequence.T1C], t1c)
    assert np.array_equal(study.arrays[MRSequence.T1], t1c)
    assert np.array_equal(study.arrays[MRSequence.FLAIR], t1c)
    # T2 came from a coarser, shifted grid: inside its extent trilinear is exact
    # for a linear field up to the rounding of the stored integers.
    t2 = study.arrays[MRSequence.T2]
    ijk = np.indices(t2.shape).reshape(3, -1)
    in_t2 = np.linalg.inv(coarse) @ t1c_affine @ np.vstack([ijk, np.ones(ijk.shape[1])])
    inside = np.all((in_t2[:3] >= 0) & (in_t2[:3] <= np.array([[11], [13], [9]])), axis=0)
    inside = inside.reshape(t2.shape)
    assert inside.sum() > 0.3 * t2.size
    assert np.abs(t2[inside] - t1c[inside]).max() <= 1.0 + 1e-3
    assert study.study_instance_uid == STUDY.study_instance_uid
    assert {d.sequence for d in study.decisions if d.selected} == set(MRSequence.ordered())


def test_missing_sequences_are_reported_and_reference_falls_back() -> None:
    _, affine, t2_ds = series(MRSequence.T2, 3, "Ax T2 FSE")
    _, _, flair_ds = series(MRSequence.FLAIR, 4, "AX FLAIR")
    study = load_study([*t2_ds, *flair_ds])
    assert study.missing == [MRSequence.T1, MRSequence.T1C]
    assert list(study.arrays) == [MRSequence.T2, MRSequence.FLAIR]
    np.testing.assert_allclose(study.affine, affine, atol=1e-4)


def test_derived_series_is_not_picked_when_an_original_exists() -> None:
    _, _, original = series(MRSequence.T1C, 5, "t1_mprage_sag +C", shape=(10, 11, 8))
    _, _, reformat = series(
        MRSequence.T1C,
        6,
        "t1_mprage_sag +C MPR tra",
        shape=(20, 22, 12),
        attributes={"ImageType": ["DERIVED", "SECONDARY", "MPR"]},
    )
    study = load_study([*reformat, *original])
    chosen = [d for d in study.decisions if d.selected]
    assert [d.series_instance_uid for d in chosen] == [original[0].SeriesInstanceUID]
    assert next(d for d in study.decisions if not d.selected).derived


def test_different_frames_of_reference_are_refused() -> None:
    _, _, t1c_ds = series(MRSequence.T1C, 5, "T1W_3D_TFE +Gd")
    other = StudyInfo(study_instance_uid=STUDY.study_instance_uid, frame_of_reference_uid="1.2.3.9")
    _, _, t2_ds = series(MRSequence.T2, 3, "T2W_TSE", study=other)
    with pytest.raises(FrameOfReferenceMismatchError, match=r"1\.2\.3\.9"):
        load_study([*t1c_ds, *t2_ds])


def test_non_images_are_skipped_and_nothing_usable_is_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, _, localizer = series(MRSequence.OTHER, 1, "localizer")
    report = Dataset()
    report.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    report.SOPInstanceUID = "1.2.3.4.5"
    report.SeriesInstanceUID = "1.2.3.4"
    report.Modality = "SR"
    with caplog.at_level(logging.INFO), pytest.raises(NoUsableSeriesError, match="localizer"):
        load_study([*localizer, report])


def test_unusable_series_falls_back_to_another_candidate() -> None:
    _, _, good = series(MRSequence.T2, 3, "t2_tse_tra", shape=(10, 11, 8))
    _, _, broken = series(MRSequence.T2, 2, "t2_tse_tra", shape=(20, 22, 12))
    del broken[5]  # a gap: the larger series would be preferred but is incomplete
    study = load_study([*broken, *good])
    assert study.arrays[MRSequence.T2].shape == (10, 11, 8)
    reasons = {d.series_instance_uid: d.reason for d in study.decisions}
    assert "missing slices" in reasons[broken[0].SeriesInstanceUID]
