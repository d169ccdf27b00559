"""What an extra-axial (meningioma) lesion does to its surroundings: the CSF cleft
between tumour and cortex and the enhancing dural tail tapering from its base."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from models.synth_b.anatomy import Anatomy
from models.synth_b.lesion_drawing import PlacedLesion
from models.synth_b.placement import Sites

__all__ = ["add_cleft", "add_dural_tail"]


def add_cleft(lesion: PlacedLesion, anatomy: Anatomy, resolution_mm: float) -> None:
    """Turn a thin shell of brain around the tumour into CSF."""
    box = lesion.box
    thickness = max(1, round(1.5 / resolution_mm))
    shell = ndimage.binary_dilation(lesion.core_mask, iterations=thickness) & ~lesion.core_mask
    gm, wm, csf = anatomy.gm[box], anatomy.wm[box], anatomy.csf[box]
    moved = (gm + wm) * shell * 0.85
    share_gm = np.divide(gm, gm + wm, out=np.zeros_like(gm), where=(gm + wm) > 1e-6)
    gm -= moved * share_gm
    wm -= moved * (1.0 - share_gm)
    csf += moved


def add_dural_tail(lesion: PlacedLesion, sites: Sites, resolution_mm: float) -> None:
    """A thin enhancing strip of dura tapering away from the tumour's base."""
    spec = lesion.spec
    if spec.tail_mm <= 0:
        return
    box = lesion.box
    intracranial = sites.intracranial[box]
    if spec.site == "falx":
        offsets_x = np.arange(box[0].start, box[0].stop) - lesion.centre[0]
        plane = (
            np.abs(offsets_x - 0.3 * lesion.radius_vox * (1 if spec.side_draw < 0.5 else -1))
            <= 0.75
        )
        dura = intracranial & plane[:, None, None]
    else:
        dura = intracranial & ~ndimage.binary_erosion(intracranial)
    outside = ~lesion.core_mask
    distance = ndimage.distance_transform_edt(outside) * resolution_mm
    weight = np.clip(1.0 - distance / spec.tail_mm, 0.0, 1.0) * dura * outside
    lesion.tail = np.asarray(weight, dtype=np.float32)
