"""generate_case: grid, labels, determinism, contrasts and per-type anatomy of the lesions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from dicom_conversion import MRSequence
from models.synth import generate_case, plan_case
from models.synth.anatomy import grid_affine, grid_shape, tissue_fractions
from models.synth.contrast import draw_contrast
from models.synth.rendering import render_case

RES = 4.0


@pytest.fixture(scope="module")
def cases() -> dict[str, list[object]]:
    """Two cases of each type at 4 mm."""
    found: dict[str, list[object]] = {"glioma": [], "meningioma": [], "metastasis": []}
    index = 0
    while any(len(v) < 2 for v in found.values()):
        plan = plan_case(0, index)
        if plan.timepoint == 1 and len(found[plan.diagnosis]) < 2:
            found[plan.diagnosis].append(generate_case(0, index, resolution_mm=RES))
        index += 1
    return found


def test_grid_is_the_brats_field_of_view() -> None:
    assert grid_shape(1.0) == (240, 240, 155)
    assert grid_shape(2.0) == (120, 120, 78)
    affine = grid_affine(1.0)
    assert np.allclose(np.diag(affine), [1, 1, 1, 1])
    # The grid centre is the brain centre of the MNI template.
    centre = affine @ np.array([119.5, 119.5, 77.0, 1.0])
    assert np.allclose(centre[:3], [0.0, -17.0, 5.0])


def test_study_shape_affine_dtype_and_labels(cases: dict[str, list[object]]) -> None:
    for group in cases.values():
        for case in group:
            study = case.study  # type: ignore[attr-defined]
            assert study.missing == []
            assert study.shape == grid_shape(RES)
            assert study.spacing == (RES, RES, RES)
            assert np.allclose(study.affine, grid_affine(RES))
            assert study.mask.dtype == np.uint8
            assert set(np.unique(study.mask)) <= {0, 1, 2, 3}
            assert (study.mask > 0).any()
            for array in study.arrays.values():
                assert array.dtype == np.float32
                assert np.array_equal(array, np.rint(array))
                assert array.min() >= 0 and 200 < array.max() <= 32767
            assert study.case_id == case.case_id  # type: ignore[attr-defined]
            assert study.study_instance_uid


def test_same_seed_and_index_give_identical_arrays() -> None:
    a = generate_case(5, 3, resolution_mm=RES)
    b = generate_case(5, 3, resolution_mm=RES)
    c = generate_case(5, 4, resolution_mm=RES)
    for sequence in MRSequence.ordered():
        assert np.array_equal(a.study.arrays[sequence], b.study.arrays[sequence])
    assert np.array_equal(a.study.mask, b.study.mask)
    assert a.truth == b.truth
    assert not np.array_equal(a.study.arrays[MRSequence.T1], c.study.arrays[MRSequence.T1])


def test_contrasts_keep_the_textbook_ordering() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = draw_contrast(rng).values
        assert v["t1n"]["wm"] > v["t1n"]["gm"] > v["t1n"]["csf"]
        assert v["t1c"]["wm"] > v["t1c"]["gm"] > v["t1c"]["csf"]
        assert v["t2w"]["csf"] > v["t2w"]["gm"] > v["t2w"]["wm"]
        assert v["t2f"]["gm"] > v["t2f"]["wm"] > v["t2f"]["csf"]
        assert v["t1c"]["enhancing"] > v["t1c"]["wm"]
        assert v["t2f"]["oedema"] > v["t2f"]["gm"]


def test_lesion_signal_on_each_sequence(cases: dict[str, list[object]]) -> None:
    for case in cases["glioma"] + cases["metastasis"]:
        study = case.study  # type: ignore[attr-defined]
        mask = study.mask
        brain = (study.arrays[MRSequence.T1] > 0) & (mask == 0)
        flair = study.arrays[MRSequence.FLAIR]
        t1c = study.arrays[MRSequence.T1C]
        assert flair[mask == 2].mean() > 1.2 * flair[brain].mean()
        if (mask == 3).sum() >= 3:
            assert t1c[mask == 3].mean() > 1.1 * t1c[brain].mean()


def test_meningioma_touches_the_brain_surface(cases: dict[str, list[object]]) -> None:
    for case in cases["meningioma"]:
        study = case.study  # type: ignore[attr-defined]
        core = study.mask == 3
        assert core.any()
        outside = study.arrays[MRSequence.T2] == 0
        near = ndi.binary_dilation(core, iterations=2)
        assert (near & outside).any(), case.case_id  # type: ignore[attr-defined]
        assert case.truth["extra_axial"] is True  # type: ignore[attr-defined]
        # Homogeneous: enhancing with little or no necrosis.
        assert (study.mask == 1).sum() < 0.3 * core.sum()


def test_metastases_sit_at_the_grey_white_junction_and_can_be_multiple() -> None:
    counts = []
    for index in range(40):
        plan = plan_case(0, index, ["metastasis"])
        rendered = render_case(0, index, resolution_mm=RES, types=["metastasis"], labels_only=True)
        lesions = rendered.truth["lesions"]
        centres = np.array([lesion["template_centre_mm"] for lesion in lesions])
        fractions = tissue_fractions(centres)
        assert (fractions[:, 0] > 0.1).all() and (fractions[:, 1] > 0.1).all(), plan.case_id
        counts.append(len(lesions))
        if len(counts) >= 12:
            break
    assert max(counts) >= 2
    assert min(counts) == 1


def test_glioma_oedema_is_connected_to_the_mass(cases: dict[str, list[object]]) -> None:
    for case in cases["glioma"]:
        mask = case.study.mask  # type: ignore[attr-defined]
        regions, count = ndi.label(mask > 0, structure=np.ones((3, 3, 3), dtype=bool))
        core = (mask == 1) | (mask == 3)
        for region in range(1, count + 1):
            assert core[regions == region].any()
        assert (mask == 2).any()


def test_a_follow_up_shows_the_same_tumour_with_a_new_acquisition() -> None:
    index = next(i for i in range(3, 200) if plan_case(0, i).timepoint > 1)
    later = render_case(0, index, resolution_mm=RES, labels_only=True)
    first = render_case(0, later.plan.patient_index, resolution_mm=RES, labels_only=True)
    assert later.truth["patient_id"] == first.truth["patient_id"]
    assert later.truth["follow_up_of"] == first.truth["case_id"]
    assert later.truth["hemisphere"] == first.truth["hemisphere"]
    a = [lesion["template_centre_mm"] for lesion in first.truth["lesions"]]
    b = [lesion["template_centre_mm"] for lesion in later.truth["lesions"]]
    assert a == b
    assert later.truth["pose"] != first.truth["pose"]
