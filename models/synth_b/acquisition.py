"""One acquisition of the patient: head pose, blur, thick slices, bias field, noise,
background and gain, then int16 values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b.fields import basis_weights, smooth_field
from models.synth_b.grid import GRID_CENTRE_MM, Grid

__all__ = ["Acquisition", "Pose", "apply_artefacts", "sample_acquisition"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Acquisition:
    """The scanner-side random choices of one case."""

    rotation_deg: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    blur_vox: tuple[float, float, float]
    thick_axis: int  # -1: none
    thick_factor: float
    thick_phase: float
    bias_form: str  # polynomial or gaussians
    bias_strength: float
    noise_model: str  # gaussian, rician or nc_chi
    coils: int
    noise_levels: tuple[float, float, float, float]
    strip_background: bool
    seed: int


def sample_acquisition(rng: np.random.Generator, resolution_mm: float) -> Acquisition:
    """Random pose and artefacts, independent of the diagnosis."""
    in_plane = float(rng.uniform(0.0, 0.6))
    thick_axis, factor = -1, 1.0
    if rng.random() < 0.3:
        thickness = rng.uniform(3.0, 6.0)
        if thickness / resolution_mm >= 1.3:
            thick_axis = 2 if rng.random() < 0.7 else int(rng.integers(0, 2))
            factor = float(thickness / resolution_mm)
    levels = rng.uniform(0.01, 0.05, 4)
    return Acquisition(
        rotation_deg=(
            float(rng.uniform(-10, 10)),
            float(rng.uniform(-6, 6)),
            float(rng.uniform(-8, 8)),
        ),
        translation_mm=(
            float(rng.uniform(-8, 8)),
            float(rng.uniform(-10, 10)),
            float(rng.uniform(-5, 5)),
        ),
        blur_vox=(in_plane, in_plane, float(rng.uniform(0.0, 0.7))),
        thick_axis=thick_axis,
        thick_factor=factor,
        thick_phase=float(rng.uniform(0.0, factor)),
        bias_form="polynomial" if rng.random() < 0.5 else "gaussians",
        bias_strength=float(rng.uniform(0.04, 0.2)),
        noise_model=str(rng.choice(["gaussian", "rician", "nc_chi"])),
        coils=int(rng.integers(2, 5)),
        noise_levels=(float(levels[0]), float(levels[1]), float(levels[2]), float(levels[3])),
        strip_background=bool(rng.random() < 0.7),
        seed=int(rng.integers(0, 2**31 - 1)),
    )


def _rotation(degrees: tuple[float, float, float]) -> npt.NDArray[np.float64]:
    ax, ay, az = np.deg2rad(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


class Pose:
    """The head position of an acquisition: output voxels drawn from the patient grid.

    Output world ``p`` shows patient world ``q = R^T (p - c - t) + c``; only output voxels
    that land inside the patient grid are interpolated, the rest are 0.
    """

    def __init__(self, acquisition: Acquisition, grid: Grid, patient: Grid) -> None:
        self.shape = grid.shape
        rotation = _rotation(acquisition.rotation_deg).T
        centre = np.asarray(GRID_CENTRE_MM) + np.asarray(acquisition.translation_mm)
        axes = [grid.axis_mm(a).astype(np.float64) - centre[a] for a in range(3)]
        coords = []
        inside = np.ones(grid.shape, dtype=np.bool_)
        for i in range(3):
            world = (
                rotation[i, 0] * axes[0][:, None, None]
                + rotation[i, 1] * axes[1][None, :, None]
                + rotation[i, 2] * axes[2][None, None, :]
                + GRID_CENTRE_MM[i]
            )
            voxel = (world - patient.affine[i, 3]) / patient.resolution_mm
            inside &= (voxel > -0.5) & (voxel < patient.shape[i] - 0.5)
            coords.append(voxel)
        self.inside = inside
        self.coords = np.stack([c[inside] for c in coords]).astype(np.float32)

    def apply(self, volume: npt.NDArray[Any], order: int) -> npt.NDArray[Any]:
        """``volume`` (patient grid) in the posed head position on the output grid."""
        values = ndimage.map_coordinates(volume, self.coords, order=order, mode="nearest")
        out = np.zeros(self.shape, dtype=volume.dtype)
        out[self.inside] = values
        return out


def _thick_slices(image: FloatArray, axis: int, factor: float, phase: float) -> FloatArray:
    n = image.shape[axis]
    profile = ndimage.gaussian_filter1d(image, sigma=factor / 2.355, axis=axis)
    samples = np.arange(phase, n - 1e-3, factor)
    if len(samples) < 2:
        return image
    lo = np.floor(samples).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (samples - lo).astype(np.float32)
    shape = [1, 1, 1]
    shape[axis] = -1
    thick = np.take(profile, lo, axis=axis) * (1 - w.reshape(shape)) + np.take(
        profile, hi, axis=axis
    ) * w.reshape(shape)
    position = np.clip((np.arange(n) - phase) / factor, 0.0, len(samples) - 1.0)
    lo2 = np.floor(position).astype(int)
    hi2 = np.minimum(lo2 + 1, len(samples) - 1)
    w2 = (position - lo2).astype(np.float32).reshape(shape)
    back = np.take(thick, lo2, axis=axis) * (1 - w2) + np.take(thick, hi2, axis=axis) * w2
    return np.asarray(back, dtype=np.float32)


def _bias(rng: np.random.Generator, acquisition: Acquisition, grid: Grid) -> FloatArray:
    axes = [grid.axis_mm(a) for a in range(3)]
    if acquisition.bias_form == "polynomial":
        bases = []
        for a in range(3):
            u = (axes[a] - GRID_CENTRE_MM[a]) / 110.0
            bases.append(np.stack([u**p for p in range(4)], axis=1).astype(np.float32))
        coeff = rng.standard_normal((4, 4, 4)).astype(np.float32)
        i, j, k = np.meshgrid(np.arange(4), np.arange(4), np.arange(4), indexing="ij")
        coeff[(i + j + k) > 3] = 0.0
        coeff[0, 0, 0] = 0.0
        coeff /= 1.0 + (i + j + k)
    else:
        spacing = float(rng.uniform(50.0, 90.0))
        bases = [basis_weights(a, spacing) for a in axes]
        lattice = tuple(b.shape[1] for b in bases)
        coeff = np.zeros(lattice, dtype=np.float32)
        for _ in range(int(rng.integers(2, 6))):
            coeff[tuple(int(rng.integers(0, n)) for n in lattice)] = rng.normal()
    field = smooth_field(coeff, bases[0], bases[1], bases[2])
    field -= field.mean()
    peak = max(float(np.abs(field).max()), 1e-6)
    return np.asarray(np.exp(acquisition.bias_strength * field / peak), dtype=np.float32)


def _noise(
    rng: np.random.Generator, image: FloatArray, sigma: float, model: str, coils: int
) -> FloatArray:
    real = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
    if model == "gaussian":
        return np.asarray(np.clip(real, 0.0, None), dtype=np.float32)
    power = real**2 + (sigma * rng.standard_normal(image.shape, dtype=np.float32)) ** 2
    if model == "nc_chi":  # the other coils: sigma^2 chi^2 with 2 (coils - 1) d.o.f.
        power += 2.0 * sigma**2 * rng.standard_gamma(coils - 1, image.shape, dtype=np.float32)
    return np.asarray(np.sqrt(power), dtype=np.float32)


def apply_artefacts(
    images: dict[str, FloatArray],
    head: npt.NDArray[np.bool_],
    acquisition: Acquisition,
    grid: Grid,
    gains: dict[str, float],
) -> dict[str, npt.NDArray[np.int16]]:
    """Blur, thick slices, bias, noise, background and gain on posed images."""
    rng = np.random.default_rng(acquisition.seed)
    out = {}
    for n, (sequence, image) in enumerate(images.items()):
        img = np.asarray(ndimage.gaussian_filter(image, acquisition.blur_vox), dtype=np.float32)
        if acquisition.thick_axis >= 0:
            img = _thick_slices(
                img, acquisition.thick_axis, acquisition.thick_factor, acquisition.thick_phase
            )
        img = img * _bias(rng, acquisition, grid)
        level, model = acquisition.noise_levels[n], acquisition.noise_model
        if acquisition.strip_background:  # skull-stripped: noise inside the head only
            inside = _noise(rng, img[head], level, model, acquisition.coils)
            img = np.zeros_like(img)
            img[head] = inside
        else:
            img = _noise(rng, img, level, model, acquisition.coils)
        scaled = np.rint(np.clip(img * gains[sequence], 0.0, 32767.0))
        out[sequence] = scaled.astype(np.int16)
    return out
