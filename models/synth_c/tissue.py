"""Tissue codes of the label volume every image is rendered from, and their BraTS labels."""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

__all__ = ["N_CODES", "Tissue", "seg_labels"]


class Tissue(IntEnum):
    """One code per tissue class; lesion classes come after the normal ones."""

    BACKGROUND = 0
    CSF = 1
    GREY_MATTER = 2
    WHITE_MATTER = 3
    DEEP_GREY = 4
    DURA = 5
    CHOROID = 6
    BRAINSTEM = 7
    OEDEMA = 10
    NECROSIS = 11
    ENHANCING = 12
    NON_ENHANCING = 13
    MENINGIOMA = 14
    CYST = 15
    DURAL_TAIL = 16


N_CODES = 17

_SEG = np.zeros(N_CODES, dtype=np.uint8)
_SEG[[Tissue.NECROSIS, Tissue.NON_ENHANCING, Tissue.CYST]] = 1
_SEG[Tissue.OEDEMA] = 2
_SEG[[Tissue.ENHANCING, Tissue.MENINGIOMA]] = 3

#: Tissues an oedema may replace (white matter and deep grey; the cortex is spared).
OEDEMA_BED = (Tissue.WHITE_MATTER, Tissue.DEEP_GREY, Tissue.BRAINSTEM)


def seg_labels(tissue: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """BraTS 2023 labels: 1 necrotic / non-enhancing core, 2 oedema, 3 enhancing."""
    return _SEG[tissue]
