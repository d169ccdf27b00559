"""Small synthetic studies built in memory for the model tests."""

from __future__ import annotations

import numpy as np

from dicom_conversion import MRSequence, StudyVolumes

SEQUENCES = ("T1", "T1C", "T2", "FLAIR")


def _ball(shape: tuple[int, int, int], centre_mm: np.ndarray, radius_mm: float, spacing: float):
    grid = np.indices(shape).transpose(1, 2, 3, 0) * spacing
    return np.linalg.norm(grid - centre_mm, axis=-1) <= radius_mm


def toy_study(
    *,
    spacing: float = 2.0,
    extent_mm: float = 120.0,
    tumour_centre_mm: tuple[float, float, float] = (80.0, 60.0, 64.0),
    tumour_radius_mm: float = 14.0,
    kind: str = "ring",
    seed: int = 0,
    missing: tuple[str, ...] = (),
) -> StudyVolumes:
    """A spherical 'brain' with one tumour: oedema shell, enhancing rim, necrotic core.

    The affine is RAS+ with the given isotropic spacing and an origin at -60 mm.
    """
    rng = np.random.default_rng(seed)
    n = round(extent_mm / spacing)
    shape = (n, n, n)
    centre = np.asarray([extent_mm / 2] * 3)
    brain = _ball(shape, centre, extent_mm * 0.45, spacing)
    t = np.asarray(tumour_centre_mm, dtype=float)
    oedema = _ball(shape, t, tumour_radius_mm * 1.6, spacing) & brain
    rim = _ball(shape, t, tumour_radius_mm, spacing) & brain
    core = _ball(shape, t, tumour_radius_mm * 0.55, spacing) & brain
    mask = np.zeros(shape, dtype=np.uint8)
    mask[oedema] = 2
    mask[rim] = 3
    if kind == "ring":
        mask[core] = 1
    base = {"T1": 600.0, "T1C": 650.0, "T2": 400.0, "FLAIR": 500.0}
    lesion = {
        "T1": {1: 300.0, 2: 500.0, 3: 450.0},
        "T1C": {1: 300.0, 2: 600.0, 3: 1400.0},
        "T2": {1: 1300.0, 2: 1000.0, 3: 800.0},
        "FLAIR": {1: 700.0, 2: 1200.0, 3: 900.0},
    }
    arrays: dict[MRSequence, np.ndarray] = {}
    for name in SEQUENCES:
        if name in missing:
            continue
        volume = np.where(brain, base[name], 0.0)
        for label, value in lesion[name].items():
            volume[mask == label] = value
        volume = volume + np.where(brain, rng.normal(0.0, 20.0, shape), 0.0)
        arrays[MRSequence(name)] = volume.astype(np.float32)
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -60.0
    return StudyVolumes(arrays=arrays, affine=affine, mask=mask)
