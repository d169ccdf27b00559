"""Training images rendered from label maps with random contrast (domain randomisation).

After SynthSeg (Billot et al., Medical Image Analysis 2023): every training image is
drawn anew from its label map (:mod:`models.training.tissue_labels`) with random
per-label intensities, texture, partial volume, elastic deformation, bias field, gamma,
blur (anisotropic: thick slices) and noise, so that a network cannot learn the look of
one generator or scanner. What carries a diagnosis is kept: the orderings of normal
tissue on each sequence (T1: CSF < grey < white matter; T2: white < grey < CSF; FLAIR:
CSF < white < grey), enhancement on T1C only (enhancing tumour and enhancing dura brighter
than white matter after contrast, not before), oedema bright on T2 and brightest on FLAIR,
necrosis dark on T1 and bright on T2. Everything else is random.

The renderer works on batches of 2-D crops (the embedder) or 3-D volumes (the segmenter)
on any torch device; one ``torch.Generator`` makes it deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional

from models.training.tissue_labels import (
    CSF,
    ENHANCING,
    GREY,
    N_LABELS,
    NECROTIC,
    OEDEMA,
    VESSEL,
    WHITE,
)

__all__ = ["RenderConfig", "render", "sample_intensities"]

_T1, _T1C, _T2, _FLAIR = 0, 1, 2, 3
_CLIP = 5.0
_TUMOUR = (NECROTIC, OEDEMA, ENHANCING)


@dataclass(frozen=True)
class RenderConfig:
    """Ranges of the random rendering (pixels are those of the rendered grid)."""

    partial_volume_px: float = 1.0
    normal_texture: float = 0.12
    lesion_texture: float = 0.3
    elastic_px: float = 2.5
    bias: float = 0.35
    log_gamma: float = 0.3
    blur_px: float = 1.2
    noise: float = 0.07
    #: Relative jitter of the normalisation (crops: analytic statistics, see ``render``).
    normalisation_jitter: float = 0.1


def _u(gen: torch.Generator, n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen, device=device)


def _lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + (b - a) * t


def sample_intensities(n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Random label intensities ``[n, 4, N_LABELS]`` (T1, T1C, T2, FLAIR; background 0)."""

    def u(low: float, high: float) -> torch.Tensor:
        return _u(gen, n, low, high, device)

    mu = torch.zeros(n, 4, N_LABELS, device=device)
    # T1: CSF < grey < white; necrosis dark; oedema a little below grey-white; enhancing
    # tissue iso- to hypo-intense before contrast.
    csf = u(0.04, 0.45)
    grey = csf + u(0.08, 0.5)
    white = grey + u(0.05, 0.45)
    t1 = mu[:, _T1]
    t1[:, CSF], t1[:, GREY], t1[:, WHITE] = csf, grey, white
    t1[:, NECROTIC] = _lerp(csf * 0.5, grey, u(0.0, 1.0))
    t1[:, OEDEMA] = grey * u(0.75, 1.1)
    t1[:, ENHANCING] = grey * u(0.6, 1.1)
    t1[:, VESSEL] = grey * u(0.5, 1.0)
    # T1C: the same tissue (small drift), enhancement above white matter.
    t1c = mu[:, _T1C]
    for label in (CSF, GREY, WHITE, NECROTIC, OEDEMA):
        t1c[:, label] = t1[:, label] * u(0.92, 1.08)
    t1c[:, ENHANCING] = torch.maximum(t1c[:, WHITE], t1[:, ENHANCING]) * u(1.15, 2.0)
    t1c[:, VESSEL] = t1c[:, WHITE] * u(1.1, 1.9)
    # T2: white < grey < CSF; necrosis and oedema bright.
    white2 = u(0.05, 0.4)
    grey2 = white2 + u(0.08, 0.4)
    csf2 = grey2 + u(0.1, 0.6)
    t2 = mu[:, _T2]
    t2[:, CSF], t2[:, GREY], t2[:, WHITE] = csf2, grey2, white2
    t2[:, NECROTIC] = _lerp(grey2, csf2, u(0.3, 1.1))
    t2[:, OEDEMA] = _lerp(grey2, csf2, u(0.2, 0.9))
    t2[:, ENHANCING] = _lerp(white2, csf2, u(0.1, 0.7))
    t2[:, VESSEL] = white2 * u(0.3, 1.0)
    # FLAIR: CSF suppressed, white < grey, oedema brightest.
    csf3 = u(0.02, 0.3)
    white3 = csf3 + u(0.05, 0.4)
    grey3 = white3 + u(0.05, 0.35)
    oedema3 = grey3 * u(1.15, 1.8)
    fl = mu[:, _FLAIR]
    fl[:, CSF], fl[:, GREY], fl[:, WHITE], fl[:, OEDEMA] = csf3, grey3, white3, oedema3
    fl[:, NECROTIC] = _lerp(csf3, oedema3, u(0.1, 0.9))
    fl[:, ENHANCING] = _lerp(white3, oedema3, u(0.2, 0.9))
    fl[:, VESSEL] = _lerp(csf3, grey3, u(0.0, 1.0))
    return mu


def _smooth_field(
    gen: torch.Generator, shape: tuple[int, ...], spatial: tuple[int, ...], cells: int
) -> torch.Tensor:
    """Unit-variance smooth random fields ``[*shape, *spatial]`` from a coarse lattice."""
    device = gen.device
    coarse = torch.randn(
        (math.prod(shape), 1, *(cells,) * len(spatial)), generator=gen, device=device
    )
    mode = "bilinear" if len(spatial) == 2 else "trilinear"
    fine = functional.interpolate(coarse, size=spatial, mode=mode, align_corners=True)
    fine = fine / fine.flatten(1).std(dim=1).clamp_min(1e-6).view(-1, *(1,) * (len(spatial) + 1))
    return fine.view(*shape, *spatial)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur ``[B, C, *spatial]`` with a per-item, per-axis sigma ``[B, D]`` (pixels)."""
    b, c = x.shape[:2]
    dims = x.dim() - 2
    radius = max(1, math.ceil(3.0 * float(sigma.max())))
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    conv = functional.conv2d if dims == 2 else functional.conv3d
    out = x.reshape(1, b * c, *x.shape[2:])
    for axis in range(dims):
        s = sigma[:, axis].clamp_min(1e-3)[:, None]
        kernel = torch.exp(-0.5 * (offsets[None, :] / s) ** 2)
        kernel = kernel / kernel.sum(dim=1, keepdim=True)
        kernel = kernel.repeat_interleave(c, dim=0)  # [B*C, K]
        view = [b * c, 1] + [1] * dims
        view[2 + axis] = kernel.shape[1]
        padding = [0] * dims
        padding[axis] = radius
        out = conv(out, kernel.view(view), padding=tuple(padding), groups=b * c)
    return out.view_as(x)


def _elastic(onehot: torch.Tensor, gen: torch.Generator, amplitude_px: float) -> torch.Tensor:
    """Warp ``[B, L, *spatial]`` soft labels by a smooth random displacement."""
    b = onehot.shape[0]
    spatial = tuple(onehot.shape[2:])
    dims = len(spatial)
    amplitude = amplitude_px * torch.rand(b, generator=gen, device=onehot.device)
    field = _smooth_field(gen, (b, dims), spatial, 5) * amplitude.view(b, 1, *(1,) * dims)
    # grid_sample's last axis is (x, y[, z]) = the spatial axes in reverse order.
    axes = [torch.linspace(-1.0, 1.0, n, device=onehot.device) for n in spatial]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij")[::-1], dim=-1)
    scale = torch.tensor([2.0 / max(n - 1, 1) for n in spatial[::-1]], device=onehot.device)
    shift = field.flip(1).movedim(1, -1) * scale
    return functional.grid_sample(
        onehot, grid[None] + shift, mode="bilinear", padding_mode="border", align_corners=True
    )


def render(
    labels: torch.Tensor,
    gen: torch.Generator,
    config: RenderConfig | None = None,
    *,
    shares: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised four-sequence images of a batch of label maps.

    Args:
        labels: int ``[B, *spatial]`` (2-D or 3-D) label maps, values ``< N_LABELS``.
        gen: the random generator (on the labels' device).
        config: ranges of the randomisation.
        shares: ``[B, N_LABELS]`` the label fractions of each whole brain. Given (crops
            of a larger brain), the images are normalised with the statistics a whole
            brain of those shares would have; None (whole brains), with the rendered
            brain's own statistics, as :func:`models.study_arrays.normalised_channels`.

    Returns:
        float32 ``[B, 4, *spatial]`` images, z-scored per sequence over the brain,
        clipped to +-5, zero outside the brain; and the (deformed) labels ``[B, *spatial]``.
    """
    config = config or RenderConfig()
    device = labels.device
    b = labels.shape[0]
    spatial = tuple(labels.shape[1:])
    dims = len(spatial)
    ones = (1,) * dims
    onehot = functional.one_hot(labels.long(), N_LABELS).movedim(-1, 1).float()
    if config.elastic_px > 0:
        onehot = _elastic(onehot, gen, config.elastic_px)
    hard = onehot.argmax(dim=1)
    brain = hard > 0
    sigma = config.partial_volume_px * torch.rand(b, 1, generator=gen, device=device)
    soft = _gaussian_blur(onehot, sigma.expand(b, dims))

    mu = sample_intensities(b, gen, device)  # [B, 4, L]
    texture_amp = torch.full((N_LABELS,), config.normal_texture, device=device)
    texture_amp[list(_TUMOUR)] = config.lesion_texture
    amp = texture_amp * torch.rand(b, N_LABELS, generator=gen, device=device)  # [B, L]
    coef = 2.0 * torch.rand(b, 4, N_LABELS, generator=gen, device=device) - 1.0
    fields = _smooth_field(gen, (b, N_LABELS), spatial, 8 if dims == 2 else 10)
    # level[b, c, l, ...] = mu * (1 + amp * coef * field); image = sum_l soft * level
    image = torch.einsum("bl...,bcl->bc...", soft, mu)
    image = image + torch.einsum("bl...,bcl->bc...", soft * fields, mu * coef * amp[:, None, :])
    image = image.clamp_min(0.0)

    bias = config.bias * torch.rand(b, 4, generator=gen, device=device)
    image = image * torch.exp(bias.view(b, 4, *ones) * _smooth_field(gen, (b, 4), spatial, 3))
    top = mu.amax(dim=2).clamp_min(1e-3)  # [B, 4]
    gamma = torch.exp(config.log_gamma * (2.0 * torch.rand(b, 4, generator=gen, device=device) - 1))
    image = (image / top.view(b, 4, *ones)).clamp_min(0.0) ** gamma.view(b, 4, *ones)
    blur = config.blur_px * torch.rand(b, dims, generator=gen, device=device)
    thin = torch.rand(b, generator=gen, device=device) < 0.6  # most acquisitions isotropic
    blur = torch.where(thin[:, None], blur.amin(dim=1, keepdim=True).expand(b, dims), blur)
    image = _gaussian_blur(image, blur)
    noise = config.noise * torch.rand(b, 4, generator=gen, device=device)
    n1 = torch.randn(image.shape, generator=gen, device=device)
    n2 = torch.randn(image.shape, generator=gen, device=device)
    scale = noise.view(b, 4, *ones)
    rician = (torch.rand(b, generator=gen, device=device) < 0.5).view(b, 1, *ones)
    image = torch.where(
        rician, torch.sqrt((image + scale * n1) ** 2 + (scale * n2) ** 2), image + scale * n1
    )
    inside = brain[:, None].expand_as(image)
    if shares is None:
        count = inside.flatten(2).sum(dim=2).clamp_min(1)
        mean = (image * inside).flatten(2).sum(dim=2) / count
        var = ((image - mean.view(b, 4, *ones)) ** 2 * inside).flatten(2).sum(dim=2) / count
    else:
        levels = (mu / top[:, :, None]).clamp_min(0.0) ** gamma[:, :, None]  # [B, 4, L]
        weights = shares[:, None, :]
        first = (weights * levels).sum(dim=2)
        second = (weights * levels**2 * (1.0 + amp[:, None, :] ** 2 / 3.0)).sum(dim=2)
        second = second + noise**2
        # The bias field multiplies before the gamma: exp(gamma * b * f), f ~ N(0, 1).
        spread = (gamma * bias) ** 2
        mean = first * torch.exp(spread / 2.0)
        var = second * torch.exp(2.0 * spread) - mean**2
        jitter = config.normalisation_jitter
        mean = mean + jitter * var.sqrt() * (2 * torch.rand(b, 4, generator=gen, device=device) - 1)
        var = var * (1 + jitter * (2 * torch.rand(b, 4, generator=gen, device=device) - 1)) ** 2
    std = var.clamp_min(1e-8).sqrt()
    image = (image - mean.view(b, 4, *ones)) / std.view(b, 4, *ones)
    image = image.clamp(-_CLIP, _CLIP) * inside
    return image, hard
