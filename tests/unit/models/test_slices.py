from __future__ import annotations

import numpy as np
import pytest

from models import EmptyMaskError, InvalidStudyError, select_tumour_slices
from models.slices import CROP_FIELD_MM, CROP_SIZE_PX
from tests.unit.models.toy_studies import toy_study


def test_largest_slice_and_neighbours_are_chosen() -> None:
    study = toy_study(spacing=2.0, tumour_centre_mm=(80.0, 60.0, 64.0))
    assert study.mask is not None
    chosen = select_tumour_slices(study, study.mask)
    areas = (study.mask > 0).sum(axis=(0, 1))
    assert chosen.centre_index == int(np.argmax(areas))
    assert chosen.centre_index == 32  # 64 mm at 2 mm voxels
    assert chosen.indices == (30, 32, 34)  # neighbours 4 mm away
    assert chosen.crops.shape == (3, 4, CROP_SIZE_PX, CROP_SIZE_PX)
    assert chosen.crops.dtype == np.float32
    assert chosen.areas_mm2[1] == max(chosen.areas_mm2)
    assert chosen.pixel_mm == pytest.approx(CROP_FIELD_MM / CROP_SIZE_PX)


def test_centroid_is_in_ras_millimetres_and_lps() -> None:
    study = toy_study(spacing=2.0, tumour_centre_mm=(80.0, 60.0, 64.0))
    assert study.mask is not None
    chosen = select_tumour_slices(study, study.mask)
    # voxel mm (80, 60, 64) + origin -60
    assert np.allclose(chosen.centroid_ras_mm, (20.0, 0.0, 4.0), atol=1.0)
    x, y, z = chosen.centroid_ras_mm
    assert chosen.centroid_lps_mm == (-x, -y, z)


def test_crop_has_a_fixed_physical_size_whatever_the_voxel_size() -> None:
    coarse = toy_study(spacing=2.0)
    fine = toy_study(spacing=1.0)
    assert coarse.mask is not None and fine.mask is not None
    a = select_tumour_slices(coarse, coarse.mask).crops[1]
    b = select_tumour_slices(fine, fine.mask).crops[1]
    # the enhancing rim (T1C) lands on the same pixels at both resolutions
    rim_a = a[1] > 2.0
    rim_b = b[1] > 2.0
    overlap = (rim_a & rim_b).sum() / max(1, (rim_a | rim_b).sum())
    assert overlap > 0.6


def test_crop_is_centred_on_the_tumour() -> None:
    study = toy_study(tumour_centre_mm=(40.0, 70.0, 60.0))
    assert study.mask is not None
    crop = select_tumour_slices(study, study.mask).crops[1]
    bright = np.argwhere(crop[1] > 2.0).mean(axis=0)
    assert np.allclose(bright, (CROP_SIZE_PX - 1) / 2.0, atol=2.0)


def test_variants_masked_boxed_and_whole() -> None:
    study = toy_study()
    assert study.mask is not None
    masked = select_tumour_slices(study, study.mask, variant="masked").crops[1]
    plain = select_tumour_slices(study, study.mask, variant="crop").crops[1]
    assert np.count_nonzero(masked[3]) < np.count_nonzero(plain[3])
    boxed = select_tumour_slices(study, study.mask, variant="boxed")
    assert np.isnan(boxed.pixel_mm)
    # the tumour fills the boxed cut-out
    assert np.mean(boxed.crops[1, 3] > 1.0) > 0.5
    whole = select_tumour_slices(study, study.mask, variant="whole")
    assert whole.pixel_mm == pytest.approx(120.0 / CROP_SIZE_PX)
    with pytest.raises(ValueError, match="variant"):
        select_tumour_slices(study, study.mask, variant="nope")  # type: ignore[arg-type]


def test_missing_sequence_is_a_zero_channel() -> None:
    study = toy_study(missing=("T1", "T2"))
    assert study.mask is not None
    chosen = select_tumour_slices(study, study.mask)
    assert chosen.sequences == ("T1C", "FLAIR")
    assert not chosen.crops[:, 0].any() and not chosen.crops[:, 2].any()
    assert chosen.crops[:, 1].any() and chosen.crops[:, 3].any()


def test_empty_mask_and_wrong_shape_are_refused() -> None:
    study = toy_study()
    assert study.mask is not None
    with pytest.raises(EmptyMaskError):
        select_tumour_slices(study, np.zeros_like(study.mask))
    with pytest.raises(InvalidStudyError, match="shape"):
        select_tumour_slices(study, study.mask[:-1])


def test_neighbours_are_clipped_at_the_volume_edge() -> None:
    study = toy_study()
    assert study.mask is not None
    mask = np.zeros_like(study.mask)
    mask[20:30, 20:30, 0] = 3
    mask[22:26, 22:26, 1] = 3
    chosen = select_tumour_slices(study, mask)
    assert chosen.centre_index == 0
    assert chosen.indices == (0, 0, 2)
