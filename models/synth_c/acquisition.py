"""One scan's contrast: per-tissue intensities within the orderings of spec section 2.

Every value is drawn per case (a follow-up gets a new scan), independently of the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.synth_c.tissue import N_CODES, Tissue

__all__ = ["SEQUENCES", "Acquisition", "sample_acquisition"]

SEQUENCES = ("t1n", "t1c", "t2w", "t2f")
F32 = NDArray[np.float32]


@dataclass(frozen=True)
class Acquisition:
    """Intensity tables, scanner gain, noise, bias, blur and slice thickness of one scan."""

    tables: dict[str, F32]  # sequence -> relative intensity by tissue code
    gain: dict[str, float]
    noise: dict[str, float]  # Rician sigma, relative to the table's brain mean
    bias: float  # amplitude of the multiplicative bias field (log scale)
    blur_vox: float  # Gaussian point-spread sigma in voxels (partial volume)
    slice_mm: float  # slice thickness along z (0: as thin as the grid)
    texture: F32  # relative texture amplitude by tissue code
    field_seed: int


def _table(values: dict[Tissue, float]) -> F32:
    table = np.zeros(N_CODES, dtype=np.float32)
    for code, value in values.items():
        table[code] = value
    return table


def sample_acquisition(rng: np.random.Generator, mismatch: bool) -> Acquisition:
    """A new scan; ``mismatch``: a non-enhancing glioma darker on FLAIR than on T2."""
    u = rng.uniform
    T = Tissue
    # T1: white matter brightest, grey darker, CSF dark.
    wm, gm, csf = 1.0, u(0.62, 0.82), u(0.12, 0.32)
    dura = u(0.2, 0.38)
    t1 = {
        T.WHITE_MATTER: wm, T.GREY_MATTER: gm, T.CSF: csf,
        T.DEEP_GREY: gm + (wm - gm) * u(0.3, 0.7),
        T.DURA: dura, T.CHOROID: gm * u(0.9, 1.05), T.BRAINSTEM: wm * u(0.9, 0.98),
        T.OEDEMA: gm * u(0.72, 0.92), T.NECROSIS: csf + (gm - csf) * u(0.1, 0.4),
        T.ENHANCING: gm * u(0.85, 1.05), T.NON_ENHANCING: gm * u(0.7, 0.88),
        T.MENINGIOMA: gm * u(0.85, 1.0), T.CYST: csf + (gm - csf) * u(0.1, 0.35),
        T.DURAL_TAIL: dura,
    }  # fmt: skip
    t1c = dict(t1)
    t1c.update({
        T.ENHANCING: wm * u(1.4, 1.9), T.MENINGIOMA: wm * u(1.4, 1.85),
        T.CHOROID: wm * u(1.15, 1.45), T.DURA: dura * u(1.3, 1.8),
        T.DURAL_TAIL: wm * u(1.1, 1.4), T.NECROSIS: t1[T.NECROSIS] * u(1.0, 1.08),
    })  # fmt: skip
    # T2: CSF brightest, grey brighter than white, dura dark.
    csf2, gm2 = 1.0, u(0.42, 0.62)
    wm2 = gm2 * u(0.65, 0.85)
    t2 = {
        T.CSF: csf2, T.GREY_MATTER: gm2, T.WHITE_MATTER: wm2,
        T.DEEP_GREY: wm2 + (gm2 - wm2) * u(0.2, 0.6), T.DURA: u(0.08, 0.2),
        T.CHOROID: gm2 * u(0.8, 1.0), T.BRAINSTEM: wm2 * u(1.0, 1.1),
        T.OEDEMA: gm2 + (csf2 - gm2) * u(0.35, 0.65), T.NECROSIS: gm2 + (csf2 - gm2) * u(0.6, 0.9),
        T.ENHANCING: gm2 * u(1.0, 1.25), T.NON_ENHANCING: gm2 + (csf2 - gm2) * u(0.45, 0.75),
        T.MENINGIOMA: gm2 * u(0.85, 1.15), T.CYST: csf2 * u(0.85, 1.0), T.DURAL_TAIL: u(0.1, 0.2),
    }  # fmt: skip
    # FLAIR: grey brighter than white, CSF suppressed, oedema bright.
    gmf, csff = 1.0, u(0.08, 0.25)
    wmf = u(0.62, 0.8)
    flair = {
        T.GREY_MATTER: gmf, T.WHITE_MATTER: wmf, T.CSF: csff,
        T.DEEP_GREY: wmf + (gmf - wmf) * u(0.3, 0.7), T.DURA: u(0.1, 0.25),
        T.CHOROID: gmf * u(0.7, 0.95), T.BRAINSTEM: wmf * u(1.0, 1.08),
        T.OEDEMA: gmf * u(1.3, 1.75), T.NECROSIS: gmf * u(0.55, 1.0),
        T.ENHANCING: gmf * u(1.1, 1.4),
        T.NON_ENHANCING: gmf * (u(0.6, 0.85) if mismatch else u(1.3, 1.65)),
        T.MENINGIOMA: gmf * u(0.9, 1.15), T.CYST: csff * u(1.2, 2.5), T.DURAL_TAIL: u(0.1, 0.25),
    }  # fmt: skip
    texture = np.zeros(N_CODES, dtype=np.float32)
    texture[[T.WHITE_MATTER, T.BRAINSTEM]] = u(0.01, 0.04)
    texture[[T.GREY_MATTER, T.DEEP_GREY, T.CSF]] = u(0.02, 0.05)
    texture[[T.OEDEMA, T.MENINGIOMA]] = u(0.03, 0.08)
    texture[[T.ENHANCING, T.NECROSIS, T.NON_ENHANCING, T.CYST]] = u(0.05, 0.13)
    tables = {"t1n": _table(t1), "t1c": _table(t1c), "t2w": _table(t2), "t2f": _table(flair)}
    return Acquisition(
        tables=tables,
        gain={name: float(u(350, 2400)) for name in SEQUENCES},
        noise={name: float(u(0.012, 0.05)) for name in SEQUENCES},
        bias=float(u(0.04, 0.25)),
        blur_vox=float(u(0.35, 0.65)),
        slice_mm=float(u(3.0, 6.0)) if rng.random() < 0.2 else 0.0,
        texture=texture,
        field_seed=int(rng.integers(0, 2**31)),
    )
