"""The scanner's side: head pose, partial-volume blur, bias field, gain, Rician noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from models.synth.anatomy import GRID_CENTRE_MM

__all__ = ["Pose", "apply_pose", "bias_field", "blur", "draw_pose", "rician", "to_scanner_range"]

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class Pose:
    """A rigid head pose with isotropic head-size scaling and an optional left-right flip.

    World (template) point ``w`` moves to ``centre + t + s * R @ F @ (w - centre)``.
    """

    rotation_deg: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    scale: float
    flip_lr: bool

    def matrix(self) -> NDArray[np.float64]:
        """The 3x3 linear part ``s * R @ F``."""
        ax, ay, az = np.deg2rad(self.rotation_deg)
        rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
        ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
        rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
        flip = np.diag([-1.0 if self.flip_lr else 1.0, 1.0, 1.0])
        return np.asarray(self.scale * (rz @ ry @ rx) @ flip, dtype=np.float64)

    def forward(self, points_mm: NDArray[np.float64]) -> NDArray[np.float64]:
        """Template world points (N, 3) to their posed world positions."""
        centre = np.asarray(GRID_CENTRE_MM)
        pts = np.asarray(points_mm, dtype=np.float64) - centre
        moved = pts @ self.matrix().T + centre + np.asarray(self.translation_mm)
        return np.asarray(moved, dtype=np.float64)


def draw_pose(rng: np.random.Generator, *, flip_lr: bool) -> Pose:
    """Pitch/roll within +-8 degrees, yaw +-12, shifts up to 10 mm, scale 0.92-1.04.

    The left-right flip is the patient's (drawn once per patient, so that every
    visit of a patient shows the tumour on the same side).
    """
    return Pose(
        rotation_deg=(
            float(rng.uniform(-8, 8)),
            float(rng.uniform(-6, 6)),
            float(rng.uniform(-12, 12)),
        ),
        translation_mm=(
            float(rng.uniform(-10, 10)),
            float(rng.uniform(-10, 10)),
            float(rng.uniform(-4, 4)),
        ),
        scale=float(rng.uniform(0.92, 1.04)),
        flip_lr=flip_lr,
    )


def apply_pose(
    volume: NDArray[np.generic], pose: Pose, affine: NDArray[np.float64], *, order: int
) -> NDArray[np.generic]:
    """Resample ``volume`` (on the grid ``affine``) so that the head sits in ``pose``."""
    a3 = affine[:3, :3]
    a3_inv = np.linalg.inv(a3)
    inverse = np.linalg.inv(pose.matrix())
    centre = np.asarray(GRID_CENTRE_MM)
    # output voxel v -> world w = A v + o -> template world c + M^-1 (w - c - t) -> voxel.
    matrix = a3_inv @ inverse @ a3
    shift = affine[:3, 3] - centre - np.asarray(pose.translation_mm)
    offset = a3_inv @ (inverse @ shift + centre - affine[:3, 3])
    out = ndi.affine_transform(
        volume, matrix, offset=offset, order=order, cval=0.0, prefilter=False
    )
    return np.asarray(out)


def bias_field(rng: np.random.Generator, shape: tuple[int, int, int]) -> F32:
    """A smooth multiplicative field, exp of a random quadratic, about +-15 %."""
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape]
    x = axes[0][:, None, None]
    y = axes[1][None, :, None]
    z = axes[2][None, None, :]
    c = rng.normal(0.0, 1.0, size=9).astype(np.float32) * np.float32(0.06)
    log_field = (
        c[0] * x
        + c[1] * y
        + c[2] * z
        + c[3] * x * x
        + c[4] * y * y
        + c[5] * z * z
        + c[6] * x * y
        + c[7] * y * z
        + c[8] * x * z
    )
    return np.asarray(np.exp(log_field), dtype=np.float32)


def rician(image: F32, sigma: float, rng: np.random.Generator) -> F32:
    """Magnitude of the image plus complex Gaussian noise of standard deviation ``sigma``."""
    real = image + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    imaginary = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.asarray(np.sqrt(real * real + imaginary * imaginary), dtype=np.float32)


def to_scanner_range(image: F32, gain: float) -> F32:
    """Scale to scanner-like integers (int16 range), still held as float32."""
    return np.asarray(np.clip(np.rint(image * np.float32(gain)), 0, 32767), dtype=np.float32)


def blur(image: F32, sigma_vox: float) -> F32:
    """Partial-volume blur; a no-op below a tenth of a voxel."""
    if sigma_vox < 0.1:
        return image
    return np.asarray(ndi.gaussian_filter(image, sigma_vox), dtype=np.float32)
