"""truth.json agrees with the seg written beside it; follow-ups agree with their first visit."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from models.synth_c.case import synthesise_case
from models.synth_c.plan import plan_case


def _cases(corpus_dir: Path) -> list[dict[str, object]]:
    cases: list[dict[str, object]] = json.loads((corpus_dir / "truth.json").read_text())["cases"]
    return cases


def test_volumes_centroid_count_and_side_match_the_seg(corpus_dir: Path) -> None:
    sides = set()
    for case in _cases(corpus_dir):
        case_id = str(case["case_id"])
        image = nib.load(corpus_dir / case_id / f"{case_id}-seg.nii.gz")
        seg = np.asarray(image.dataobj)
        voxel_ml = float(np.prod(image.header.get_zooms())) / 1000
        volumes = case["volume_ml"]
        assert isinstance(volumes, dict)
        for key, labels in {
            "necrotic": (1,), "oedema": (2,), "enhancing": (3,),
            "tumour_core": (1, 3), "whole_tumour": (1, 2, 3),
        }.items():  # fmt: skip
            expected = np.isin(seg, labels).sum() * voxel_ml
            assert volumes[key] == pytest.approx(expected, abs=1e-3), (case_id, key)
        core = np.isin(seg, (1, 3))
        assert core.any(), case_id
        centroid = image.affine[:3, :3] @ np.argwhere(core).mean(axis=0) + image.affine[:3, 3]
        assert np.allclose(case["centroid_mm"], centroid, atol=0.02), case_id
        components, count = ndimage.label(core, structure=np.ones((3, 3, 3)))
        assert case["lesion_count"] == count, case_id
        largest = components == np.argmax(np.bincount(components.ravel())[1:]) + 1
        head_x = centroid[0] - case["head_centre_mm"][0]  # type: ignore[index]
        if abs(head_x) > 20:
            assert case["hemisphere"] == ("right" if head_x > 0 else "left"), case_id
            sides.add(case["hemisphere"])
        assert case["oedema_ratio"] == pytest.approx(
            volumes["oedema"] / volumes["tumour_core"], rel=1e-2, abs=1e-3
        )
        enhancing, necrotic = bool((seg[largest] == 3).any()), bool((seg[largest] == 1).any())
        expected_pattern = ("ring" if necrotic else "solid") if enhancing else "none"
        assert case["enhancement"] == expected_pattern, case_id  # of the largest lesion
        if case["necrosis"]:
            assert necrotic and enhancing, case_id
    assert sides == {"left", "right"}


def test_metastases_are_multiple_in_a_share_of_cases() -> None:
    from models.synth_c.anatomy import sample_head
    from models.synth_c.lesions import plan_lesions
    from models.synth_c.sites import map_sites

    head = sample_head(np.random.default_rng(0), 60)
    sites = map_sites(head)
    rng = np.random.default_rng(1)
    counts = [len(plan_lesions(rng, head, sites, "metastasis", None)) for _ in range(200)]
    multiple = np.mean(np.array(counts) > 1)
    assert 0.38 < multiple < 0.62
    assert max(counts) <= 7
    gliomas = [len(plan_lesions(rng, head, sites, "glioma", None)) for _ in range(100)]
    assert np.mean(np.array(gliomas) > 1) < 0.15  # multifocal glioma: a minority
    big = plan_lesions(rng, head, sites, "metastasis", "solitary_large_metastasis")
    assert len(big) == 1 and big[0].radius_mm >= 14 and big[0].enhancement == "ring"


@pytest.mark.parametrize(("first", "later"), [(2, 20), (14, 21)])
def test_follow_up_is_the_same_lesion_scaled_in_a_new_scan(first: int, later: int) -> None:
    plan = plan_case(77, later, 0.15)
    assert plan.base_index == first and plan.timepoint == 2
    a, b = synthesise_case(77, first, 4.0, 0.15), synthesise_case(77, later, 4.0, 0.15)
    assert a.plan.diagnosis == b.plan.diagnosis and a.plan.patient_id == b.plan.patient_id
    core_a, core_b = np.isin(a.seg, (1, 3)), np.isin(b.seg, (1, 3))
    ratio = core_b.sum() / core_a.sum()
    assert ratio == pytest.approx(plan.volume_scale, rel=0.3)
    centre_a = a.pose.to_head(a.grid.world(np.argwhere(core_a).T.astype(np.float32)))
    centre_b = b.pose.to_head(b.grid.world(np.argwhere(core_b).T.astype(np.float32)))
    assert np.linalg.norm(centre_a.mean(axis=1) - centre_b.mean(axis=1)) < 8.0
    assert a.acquisition.gain != b.acquisition.gain  # another acquisition
    assert not np.allclose(a.pose.translation, b.pose.translation)
