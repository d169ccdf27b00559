from __future__ import annotations

import json

import numpy as np
import pytest

from models import EmptyMaskError, tumour_facts
from models.facts import lobe_by_rule
from tests.unit.models.toy_studies import toy_study


def test_volumes_per_compartment() -> None:
    study = toy_study(spacing=2.0)
    assert study.mask is not None
    facts = tumour_facts(study, study.mask)
    voxel_ml = 8.0 / 1000.0
    counts = np.bincount(study.mask.ravel(), minlength=4)
    assert facts.necrotic_ml == pytest.approx(counts[1] * voxel_ml)
    assert facts.oedema_ml == pytest.approx(counts[2] * voxel_ml)
    assert facts.enhancing_ml == pytest.approx(counts[3] * voxel_ml)
    assert facts.core_ml == pytest.approx((counts[1] + counts[3]) * voxel_ml)
    assert facts.volume_ml == pytest.approx(counts[1:].sum() * voxel_ml)
    # oedema ball of radius 22.4 mm: about 47 ml
    assert 40 < facts.volume_ml < 50
    assert facts.lesion_count == 1


def test_centroid_hemisphere_and_json() -> None:
    right = toy_study(tumour_centre_mm=(90.0, 60.0, 64.0))
    left = toy_study(tumour_centre_mm=(30.0, 60.0, 64.0))
    assert right.mask is not None and left.mask is not None
    facts_right = tumour_facts(right, right.mask)
    facts_left = tumour_facts(left, left.mask)
    assert facts_right.hemisphere == "right"  # RAS: +x is the patient's right
    assert facts_left.hemisphere == "left"
    assert facts_right.centroid_ras_mm[0] == pytest.approx(30.0, abs=1.0)
    assert facts_right.centroid_lps_mm[0] == pytest.approx(-facts_right.centroid_ras_mm[0])
    data = json.loads(json.dumps(facts_right.to_dict()))
    assert data["hemisphere"] == "right"
    assert len(data["centroid_lps_mm"]) == 3


def test_lesion_count_ignores_specks() -> None:
    study = toy_study(tumour_radius_mm=6.0, tumour_centre_mm=(40.0, 60.0, 60.0))
    assert study.mask is not None
    mask = study.mask.copy()
    second = toy_study(tumour_radius_mm=6.0, tumour_centre_mm=(80.0, 60.0, 60.0)).mask
    assert second is not None
    mask[second > 0] = second[second > 0]
    mask[5, 5, 5] = 3  # one 8 microlitre speck
    assert tumour_facts(study, mask).lesion_count == 2


def test_lobe_rule() -> None:
    assert lobe_by_rule(anterior=0.8, superior=0.6) == "frontal"
    assert lobe_by_rule(anterior=0.1, superior=0.6) == "occipital"
    assert lobe_by_rule(anterior=0.45, superior=0.3) == "temporal"
    assert lobe_by_rule(anterior=0.45, superior=0.8) == "parietal"
    assert lobe_by_rule(anterior=0.2, superior=0.1) == "cerebellum"


def test_empty_mask_raises() -> None:
    study = toy_study()
    assert study.mask is not None
    with pytest.raises(EmptyMaskError):
        tumour_facts(study, np.zeros_like(study.mask))
