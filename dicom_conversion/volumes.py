"""The result objects: one series as a volume, one study on one grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import highdicom as hd
import numpy as np

from dicom_conversion.orientation import affine_lps_to_ras, affine_ras_to_lps, to_canonical
from dicom_conversion.sequences import MRSequence, SequenceDecision

__all__ = ["SeriesVolume", "StudyVolumes"]


@dataclass(frozen=True)
class SeriesVolume:
    """One DICOM series as a volume with its patient-coordinate (LPS) affine.

    ``volume.array`` is indexed (slices, rows, columns) as highdicom builds it.
    """

    volume: hd.Volume
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str | None
    sequence: MRSequence
    description: str

    __module__ = "dicom_conversion"

    def canonical(self) -> tuple[np.ndarray, np.ndarray]:
        """The volume in simcase's canonical convention: (X, Y, Z) array and RAS affine."""
        array = np.asarray(self.volume.array)
        return to_canonical(array, affine_lps_to_ras(self.volume.affine))


@dataclass
class StudyVolumes:
    """The sequences of one study on one grid, in the canonical array convention.

    Attributes
    ----------
    arrays:
        float32 arrays of shape (X, Y, Z), one per sequence present.
    affine:
        4x4 voxel-to-RAS+ affine in millimetres; axes closest to R, A, S.
    mask:
        Optional uint8 BraTS label mask (0 background, 1 necrotic core,
        2 oedema, 3 enhancing) of the same shape.
    study_instance_uid, frame_of_reference_uid, case_id:
        Identifiers, when known.
    decisions:
        The per-series sequence decisions taken by ``load_study``.
    """

    arrays: dict[MRSequence, np.ndarray]
    affine: np.ndarray
    mask: np.ndarray | None = None
    study_instance_uid: str | None = None
    frame_of_reference_uid: str | None = None
    case_id: str | None = None
    decisions: list[SequenceDecision] = field(default_factory=list)

    __module__ = "dicom_conversion"

    def __post_init__(self) -> None:
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4):
            raise ValueError(f"Argument 'affine' must be 4x4, got shape {self.affine.shape}.")
        shapes = {tuple(a.shape) for a in self.arrays.values()}
        if self.mask is not None:
            shapes.add(tuple(self.mask.shape))
        if len(shapes) > 1:
            raise ValueError(
                f"Arrays of a StudyVolumes must share one shape, got {sorted(shapes)}."
            )
        if any(len(s) != 3 for s in shapes):
            raise ValueError(f"Arrays of a StudyVolumes must be 3D, got {sorted(shapes)}.")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The (X, Y, Z) grid shape."""
        for array in self.arrays.values():
            x, y, z = array.shape
            return int(x), int(y), int(z)
        if self.mask is not None:
            x, y, z = self.mask.shape
            return int(x), int(y), int(z)
        raise ValueError("StudyVolumes holds no array")

    @property
    def missing(self) -> list[MRSequence]:
        """The sequences of ``MRSequence.ordered()`` absent from ``arrays``."""
        return [s for s in MRSequence.ordered() if s not in self.arrays]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel sizes in mm along i, j, k."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[0]), float(norms[1]), float(norms[2])

    def affine_lps(self) -> np.ndarray:
        """The DICOM-patient (LPS) affine of the same grid."""
        return affine_ras_to_lps(self.affine)

    def stacked(self, fill: float = 0.0) -> np.ndarray:
        """A (4, X, Y, Z) float32 array in ``MRSequence.ordered()`` order, missing = ``fill``."""
        out = np.full((4, *self.shape), fill, dtype=np.float32)
        for channel, sequence in enumerate(MRSequence.ordered()):
            if sequence in self.arrays:
                out[channel] = self.arrays[sequence]
        return out
