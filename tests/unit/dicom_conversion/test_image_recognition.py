"""Image-based recognition on MNI152 tissue maps (real anatomy shipped with nilearn)."""

from __future__ import annotations

import numpy as np
import pytest

from dicom_conversion import MRSequence, StudyInfo, classify_by_image, load_study, write_mr_series

pytestmark = pytest.mark.slow

# (CSF, grey matter, white matter) signal per contrast, as in the literature.
CONTRASTS = {
    MRSequence.T1: (300.0, 600.0, 900.0),
    MRSequence.T2: (1000.0, 600.0, 450.0),
    MRSequence.FLAIR: (100.0, 700.0, 500.0),
}


@pytest.fixture(scope="module")
def tissues() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import nilearn.datasets as nilearn_datasets  # a dependency: missing, the test fails

    gm_img = nilearn_datasets.load_mni152_gm_template(resolution=2)
    gm = np.asarray(gm_img.dataobj, dtype=np.float32)
    wm = np.asarray(nilearn_datasets.load_mni152_wm_template(resolution=2).dataobj, np.float32)
    brain = np.asarray(nilearn_datasets.load_mni152_brain_mask(resolution=2).dataobj, np.float32)
    csf = np.clip(brain - gm - wm, 0.0, 1.0)
    return csf, gm, wm, np.asarray(gm_img.affine, dtype=np.float64)


def synthesize(
    tissues: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    sequence: MRSequence,
    seed: int,
    enhancement: bool = False,
) -> np.ndarray:
    csf, gm, wm, _ = tissues
    c, g, w = CONTRASTS[MRSequence.T1 if sequence is MRSequence.T1C else sequence]
    rng = np.random.default_rng(seed)
    image = c * csf + g * gm + w * wm
    x = np.linspace(-1.0, 1.0, image.shape[0])[:, None, None]
    image *= 1.0 + 0.1 * x  # a smooth bias field
    if enhancement:
        vessels = (rng.random(image.shape) < 0.004) & ((csf + gm) > 0.3)
        image[vessels] = 2200.0
    image += rng.normal(0.0, 20.0, image.shape) * (image > 0)
    return np.clip(np.round(image), 0, None).astype(np.float32)


@pytest.mark.parametrize("sequence", [MRSequence.T1, MRSequence.T2, MRSequence.FLAIR])
def test_contrast_is_recognised_from_the_pixels(
    tissues: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], sequence: MRSequence
) -> None:
    decided, reason = classify_by_image(synthesize(tissues, sequence, seed=1), (2.0, 2.0, 2.0))
    assert decided is sequence, reason


def test_study_without_usable_headers_is_decided_from_the_images(
    tissues: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    affine = tissues[3]
    study = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.5")
    silent = {
        "EchoTime": None,
        "RepetitionTime": None,
        "InversionTime": None,
        "ScanningSequence": "RM",
        "SequenceVariant": "NONE",
    }
    series = []
    plan = [
        (MRSequence.T1, False, "series A"),
        (MRSequence.T1C, True, "series B"),
        (MRSequence.T2, False, "series C"),
        # A wrong description contradicted by the timing: the image decides.
        (MRSequence.FLAIR, False, "T2 AX"),
    ]
    for number, (sequence, enhanced, description) in enumerate(plan, start=1):
        volume = synthesize(tissues, sequence, seed=number, enhancement=enhanced)
        series += write_mr_series(
            volume,
            affine,
            sequence=MRSequence.OTHER,
            study=study,
            series_number=number,
            series_description=description,
            attributes={**silent, "EchoTime": 10.0, "RepetitionTime": 500.0}
            if description == "T2 AX"
            else silent,
        )
    result = load_study(series)
    decided = {d.description: d for d in result.decisions}
    assert decided["series A"].sequence is MRSequence.T1
    assert decided["series B"].sequence is MRSequence.T1C
    assert decided["series C"].sequence is MRSequence.T2
    assert decided["T2 AX"].sequence is MRSequence.FLAIR
    assert all(d.image_based for d in result.decisions)
    assert "disagree" in decided["T2 AX"].reason
    assert "pre/post pair" in decided["series B"].reason
    assert result.missing == []
