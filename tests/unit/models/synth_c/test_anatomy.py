"""The anatomy is procedural (no template) and varies from patient to patient."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.synth_c.case import SynthCase
from models.synth_c.tissue import Tissue

PACKAGE = Path(__file__).resolve().parents[4] / "models" / "synth_c"


def test_no_template_and_no_other_generator_is_used() -> None:
    sources = "\n".join(p.read_text() for p in PACKAGE.glob("*.py"))
    for forbidden in ("nilearn", "MNI", "mni152", "models.synth.", "models.synth_b", "load_mni"):
        assert forbidden not in sources, forbidden
    assert len(list(PACKAGE.glob("*.py"))) >= 10


def test_brains_differ_in_size_and_ventricles(cases_2mm: list[SynthCase]) -> None:
    brains = [int(np.sum(c.tissue != Tissue.BACKGROUND)) for c in cases_2mm]
    ventricles = [int(np.sum(c.tissue == Tissue.CSF)) for c in cases_2mm]
    assert len(set(brains)) == len(brains)
    assert max(brains) / min(brains) > 1.1
    assert max(ventricles) / min(ventricles) > 1.2
    for case in cases_2mm:
        voxel_ml = case.grid.voxel_ml
        assert 900 < brains[cases_2mm.index(case)] * voxel_ml < 2200  # a human brain, in ml
        for tissue in (Tissue.GREY_MATTER, Tissue.WHITE_MATTER, Tissue.DEEP_GREY, Tissue.DURA):
            assert np.any(case.tissue == tissue)
        grey, white = (
            np.sum(case.tissue == Tissue.GREY_MATTER),
            np.sum(case.tissue == Tissue.WHITE_MATTER),
        )
        assert 0.3 < grey / white < 2.0


def test_hemispheres_are_split_by_a_fissure_and_the_brain_sits_in_the_view(
    cases_2mm: list[SynthCase],
) -> None:
    for case in cases_2mm:
        brain = case.tissue != Tissue.BACKGROUND
        assert not brain[0].any() and not brain[-1].any()
        assert not brain[:, 0].any() and not brain[:, -1].any()
        assert not brain[:, :, -1].any()  # the vertex is inside the field of view
        top = int(np.nonzero(brain)[2].max())
        # Near the vertex, the falx/fissure (dura or CSF) separates left from right.
        slab = case.tissue[:, :, top - 6]
        middle = slab.shape[0] // 2
        band = slab[middle - 6 : middle + 7]
        assert np.any(np.isin(band, (Tissue.DURA, Tissue.CSF)))
