"""The measured signs: each one responds to the feature it names, on toy studies."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import EmptyMaskError
from models.signs import DEPTH_CAP_MM, SIGN_NAMES, tumour_signs
from models.study_arrays import normalised_channels
from tests.unit.models.toy_studies import toy_study


def _signs(**options: object) -> dict[str, float]:
    study = toy_study(**options)  # type: ignore[arg-type]
    assert study.mask is not None
    values = tumour_signs(normalised_channels(study), study.mask, study.affine)
    assert values.shape == (len(SIGN_NAMES),)
    return dict(zip(SIGN_NAMES, values.tolist(), strict=True))


def test_ring_and_solid_differ_in_enhancement_and_necrosis() -> None:
    ring, solid = _signs(kind="ring"), _signs(kind="solid")
    assert solid["enhancing_share_of_core"] == pytest.approx(1.0)
    assert solid["necrotic_share"] == 0.0
    assert 0.2 < ring["enhancing_share_of_core"] < 0.95
    assert ring["necrotic_share"] > 0.0


def test_a_mass_in_oedema_has_an_oedema_rim() -> None:
    signs = _signs()
    assert signs["oedema_rim_share"] > 0.9
    assert signs["log_oedema_to_core"] > 0.5
    assert signs["log_lesions"] == 0.0 and signs["log_cores"] == 0.0


def test_depth_and_contact_follow_the_place() -> None:
    # the toy brain is a ball of radius 54 mm centred at 60 mm
    deep = _signs(tumour_centre_mm=(60.0, 60.0, 60.0), tumour_radius_mm=8.0)
    superficial = _signs(tumour_centre_mm=(60.0, 60.0, 108.0), tumour_radius_mm=8.0)
    assert deep["surface_contact"] == 0.0
    assert deep["median_depth_mm"] == DEPTH_CAP_MM
    assert superficial["surface_contact"] > 0.3
    assert superficial["min_depth_mm"] < 4.0
    assert superficial["centroid_z_mm"] - deep["centroid_z_mm"] == pytest.approx(44.0, abs=3.0)
    assert deep["midline_distance_mm"] < 3.0


def test_sphere_is_round_and_resolution_barely_matters() -> None:
    coarse = _signs(spacing=2.0, kind="solid")
    fine = _signs(spacing=1.0, kind="solid")
    assert 0.8 < coarse["core_sphericity"] <= 1.6
    for name in ("log_volume_ml", "log_core_ml", "log_oedema_to_core", "centroid_x_mm"):
        assert fine[name] == pytest.approx(coarse[name], abs=0.15), name


def test_two_lesions_are_counted() -> None:
    study = toy_study(tumour_centre_mm=(40.0, 60.0, 60.0), tumour_radius_mm=6.0)
    other = toy_study(tumour_centre_mm=(85.0, 60.0, 60.0), tumour_radius_mm=6.0)
    assert study.mask is not None and other.mask is not None
    mask = np.maximum(study.mask, other.mask)
    values = dict(
        zip(SIGN_NAMES, tumour_signs(normalised_channels(study), mask, study.affine), strict=True)
    )
    assert values["log_lesions"] == pytest.approx(np.log(2))
    assert values["log_cores"] == pytest.approx(np.log(2))


def test_empty_mask_is_refused() -> None:
    study = toy_study()
    assert study.mask is not None
    with pytest.raises(EmptyMaskError):
        tumour_signs(normalised_channels(study), np.zeros_like(study.mask), study.affine)


def _stretched(study_mask: np.ndarray, factor: int) -> np.ndarray:
    """The mask stretched ``factor`` times along x about its centre (a tract-following mass)."""
    xs = np.arange(study_mask.shape[0])
    centre = int(np.mean(np.nonzero(study_mask.any(axis=(1, 2)))[0]))
    source = np.clip(centre + (xs - centre) // factor, 0, study_mask.shape[0] - 1)
    return study_mask[source]


def test_form_signs_tell_a_long_mass_from_a_round_one() -> None:
    study = toy_study(tumour_centre_mm=(60.0, 60.0, 60.0), tumour_radius_mm=10.0)
    assert study.mask is not None
    channels = normalised_channels(study)
    round_ = dict(zip(SIGN_NAMES, tumour_signs(channels, study.mask, study.affine), strict=True))
    long_ = dict(
        zip(
            SIGN_NAMES,
            tumour_signs(channels, _stretched(study.mask, 3), study.affine),
            strict=True,
        )
    )
    assert round_["core_elongation"] > 0.9
    assert long_["core_elongation"] < 0.5
    assert long_["whole_sphericity"] < round_["whole_sphericity"]


def test_wall_thickness_of_a_ring_and_of_a_solid_mass() -> None:
    ring, solid = _signs(kind="ring"), _signs(kind="solid")
    # the toy ring: an enhancing shell from 0.55 r to r (r = 14 mm), so about 6 mm thick
    assert 3.0 < ring["wall_mm"] < 9.0
    assert 0.2 < ring["wall_to_radius"] < 0.7
    assert ring["necrotic_share_of_largest"] > 0.1
    # a solid mass is all wall: its radius, a ratio of 1, no necrosis
    assert solid["wall_to_radius"] == pytest.approx(1.0)
    assert solid["wall_mm"] == pytest.approx(14.0, abs=1.5)
    assert solid["necrotic_share_of_largest"] == 0.0


def test_the_first_sixteen_signs_keep_their_places() -> None:
    """Signs are only ever appended: heads fitted before the form signs take the first 16."""
    assert SIGN_NAMES[:16] == (
        "log_volume_ml", "log_core_ml", "enhancing_share_of_core", "necrotic_share",
        "log_oedema_to_core", "oedema_rim_share", "log_lesions", "log_cores",
        "core_sphericity", "surface_contact", "median_depth_mm", "min_depth_mm",
        "midline_distance_mm", "centroid_x_mm", "centroid_y_mm", "centroid_z_mm",
    )  # fmt: skip
