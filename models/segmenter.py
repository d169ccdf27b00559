"""Segmenters: a study's four sequences to BraTS labels on the study grid.

The network runs on an isotropic ``SEGMENTER_SPACING_MM`` grid; the class scores
are interpolated back to the study grid before the arg-max, and voxels outside the
brain (zero in every sequence) are background. A missing sequence is a zero channel
(the network is trained with sequence dropout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from models.networks.oedema_growth import OedemaGrowth
from models.networks.segmentation_net import (
    SEGMENTER_MULTIPLE,
    SEGMENTER_SPACING_MM,
    build_segmentation_net,
)
from models.onnx_session import cpu_session, onnx_weights, torch_weights
from models.registry import ModelCard
from models.study_arrays import StudyLike, bounding_box, normalised_channels, voxel_spacing

__all__ = [
    "OnnxSegmenter",
    "Segmenter",
    "TorchSegmenter",
    "brain_box",
    "class_argmax",
    "pad_to_multiple",
    "resample_channels",
    "segmentation_net_of",
    "segmenter_grid_shape",
]


@runtime_checkable
class Segmenter(Protocol):
    """Finds the tumour in a study without a SEG."""

    @property
    def model_version(self) -> str:
        """Identifies the weights."""
        ...

    def segment(self, study: StudyLike, *, channels: np.ndarray | None = None) -> np.ndarray:
        """uint8 BraTS labels (0, 1, 2, 3) with the shape of the study's arrays.

        ``channels``: the study's :func:`~models.study_arrays.normalised_channels`, when
        the caller has them already (the embedder needs the same; computing them once
        saves a third of a 1 mm study's time).
        """
        ...


def segmenter_grid_shape(shape: tuple[int, ...], spacing: np.ndarray) -> tuple[int, int, int]:
    """Shape of a ``shape`` volume of voxel size ``spacing`` resampled to the segmenter grid."""
    sizes = [
        max(1, round(n * s / SEGMENTER_SPACING_MM)) for n, s in zip(shape, spacing, strict=True)
    ]
    return (sizes[0], sizes[1], sizes[2])


def resample_channels(channels: np.ndarray, target: tuple[int, int, int]) -> np.ndarray:
    """Trilinear resampling of ``[C, X, Y, Z]`` to ``[C, *target]``."""
    tensor = torch.from_numpy(np.ascontiguousarray(channels, dtype=np.float32))[None]
    out = functional.interpolate(tensor, size=target, mode="trilinear", align_corners=False)
    return out[0].numpy()


def pad_to_multiple(array: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Zero-pad ``[C, X, Y, Z]`` so each side is a multiple of ``SEGMENTER_MULTIPLE``.

    Returns:
        The padded float32 array and the original ``(X, Y, Z)``.
    """
    shape = array.shape[1:]
    padded = [int(np.ceil(n / SEGMENTER_MULTIPLE) * SEGMENTER_MULTIPLE) for n in shape]
    out = np.zeros((array.shape[0], *padded), dtype=np.float32)
    out[:, : shape[0], : shape[1], : shape[2]] = array
    return out, (int(shape[0]), int(shape[1]), int(shape[2]))


def brain_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, slice, slice]:
    """The bounding box of a 3-D boolean mask (plus ``margin`` voxels, clipped).

    An empty mask gives the whole volume.
    """
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(np.any(mask, axis=other))
        n = mask.shape[axis]
        if hits.size == 0:
            box.append(slice(0, n))
        else:
            box.append(slice(max(0, int(hits[0]) - margin), min(n, int(hits[-1]) + 1 + margin)))
    return (box[0], box[1], box[2])


def _source_indices(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation taps of ``torch.nn.functional.interpolate`` (align_corners=False)."""
    source = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lower = source.astype(np.int64)
    upper = np.minimum(lower + 1, n_in - 1)
    return lower, upper, (source - lower).astype(np.float32)


#: Taps of one axis: lower and upper source indices and the upper one's weight.
_Taps = tuple[np.ndarray, np.ndarray, np.ndarray]

#: Output slabs (along the first axis) of the label interpolation: a slab's four score
#: volumes stay in the cache while they are interpolated and compared.
_SLAB = 8


def class_argmax(scores: np.ndarray) -> np.ndarray:
    """``np.argmax(scores, axis=0)`` as uint8, for a few classes ``[K, ...]``.

    numpy's arg-max along a short first axis walks one K-element row per voxel; this
    compares whole class volumes instead, with the same answer (the first of equal
    maxima wins; a NaN score, which numpy ranks first, sends the slab to numpy).
    """
    best = np.array(scores[0], dtype=scores.dtype, copy=True)
    labels = np.zeros(best.shape, dtype=np.uint8)
    for k in range(1, scores.shape[0]):
        np.copyto(labels, np.uint8(k), where=scores[k] > best)
        np.maximum(best, scores[k], out=best)
    if np.isnan(best).any():  # np.maximum carries a NaN of any class
        return np.asarray(np.argmax(scores, axis=0), dtype=np.uint8)
    return labels


def _interpolated(
    part: np.ndarray, axis: int, lower: np.ndarray, upper: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """One linear interpolation step of ``part`` along ``axis`` (float32 throughout)."""
    view = [1] * part.ndim
    view[axis] = weight.size
    w = weight.reshape(view)
    low, high = np.take(part, lower, axis=axis), np.take(part, upper, axis=axis)
    return np.asarray(low * (1.0 - w) + high * w)


def _reached(taps: _Taps, coarse: slice) -> slice:
    """The outputs of ``taps`` with a tap in the ``coarse`` range (a run, as taps ascend)."""
    lower, upper, _ = taps
    hits = np.flatnonzero((upper >= coarse.start) & (lower < coarse.stop))
    return slice(int(hits[0]), int(hits[-1]) + 1) if hits.size else slice(0, 0)


def _labels_on_study_grid(
    logits: np.ndarray, offset: tuple[int, int, int], grid: tuple[int, ...], shape: tuple[int, ...]
) -> np.ndarray:
    """Arg-max of the trilinearly interpolated class scores, on the study grid.

    ``logits`` ``[4, ...]`` cover the part of the segmenter grid starting at ``offset``
    (the brain box); scores elsewhere are background. Only voxels with one of their
    eight coarse taps tumour are interpolated, slab by slab (``_SLAB`` output planes,
    in the box of the tumour taps of the slab's rows): with finite scores, a voxel whose
    taps all rank background first is background, as the full interpolation gives there
    (each float32 step, ``a * (1 - w) + b * w`` with ``0 <= w <= 1``, is monotonic in
    ``a`` and ``b``, so no class overtakes background). Each interpolated score takes the
    same float32 operations in the same order as a whole-grid interpolation.
    """
    labels = np.zeros(shape, dtype=np.uint8)
    coarse = class_argmax(logits) > 0
    if not coarse.any():
        return labels
    box = brain_box(coarse, margin=2)
    part = logits[(slice(None), *box)]
    tumour = coarse[box] if np.isfinite(part).all() else np.ones(part.shape[1:], dtype=bool)
    target: list[slice] = []
    taps: list[_Taps] = []
    for axis in range(3):
        lower, upper, weight = _source_indices(int(shape[axis]), int(grid[axis]))
        start = offset[axis] + (box[axis].start or 0)
        stop = start + part.shape[axis + 1]
        inside = np.flatnonzero((lower >= start) & (upper < stop))
        if inside.size == 0:
            return labels
        lo, hi = int(inside[0]), int(inside[-1]) + 1
        target.append(slice(lo, hi))
        taps.append((lower[lo:hi] - start, upper[lo:hi] - start, weight[lo:hi]))
    # The classes last: every gather below copies runs of four scores, not single ones.
    scores = np.ascontiguousarray(np.moveaxis(part, 0, -1))
    for s in range(0, target[0].stop - target[0].start, _SLAB):
        rows = tuple(t[s : s + _SLAB] for t in taps[0])
        seen = np.asarray(tumour[int(rows[0][0]) : int(rows[1][-1]) + 1].any(axis=0))
        reached = bounding_box(seen[:, :, None])
        if reached is None:  # no tap of these planes is tumour: background
            continue
        near = [_reached(taps[axis], reached[axis - 1]) for axis in (1, 2)]
        slab = _interpolated(scores, 0, *rows)
        for axis in (1, 2):
            slab = _interpolated(slab, axis, *(t[near[axis - 1]] for t in taps[axis]))
        out = (
            slice(target[0].start + s, target[0].start + s + slab.shape[0]),
            *(
                slice(t.start + n.start, t.start + n.stop)
                for t, n in zip(target[1:], near, strict=True)
            ),
        )
        labels[out] = class_argmax(np.moveaxis(slab, -1, 0))
    return labels


class _LogitsSegmenter:
    model_version: str

    def segment(self, study: StudyLike, *, channels: np.ndarray | None = None) -> np.ndarray:
        if channels is None:
            channels = normalised_channels(study)
        original = channels.shape[1:]
        grid = segmenter_grid_shape(original, voxel_spacing(study.affine))
        small = resample_channels(channels, grid)
        box = brain_box(np.any(small != 0, axis=0))
        padded, valid = pad_to_multiple(small[(slice(None), *box)])
        logits = self._run(padded[None])[0][:, : valid[0], : valid[1], : valid[2]]
        offset = (box[0].start or 0, box[1].start or 0, box[2].start or 0)
        labels = _labels_on_study_grid(np.ascontiguousarray(logits), offset, grid, original)
        found = bounding_box(labels)
        if found is not None:  # outside the head stays background (only the tumour's box)
            outside = ~np.any(channels[(slice(None), *found)] != 0, axis=0)
            labels[found][outside] = 0
        return labels

    def _run(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def segmentation_net_of(card: ModelCard, weights: Path) -> nn.Module:
    """The network a segmenter card describes, with the trained weights ``weights``
    (the UNet's state dict) and, when the card names it, the oedema growth after it."""
    channels = tuple(card.architecture.get("channels") or (8, 16, 32, 64))
    net = build_segmentation_net(channels)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    growth = card.architecture.get("oedema_growth")
    if not growth:
        return net
    return OedemaGrowth(
        net,
        flair_z=float(growth["flair_z"]),
        t2_z=float(growth["t2_z"]),
        steps=int(growth["steps"]),
    )


class TorchSegmenter(_LogitsSegmenter):
    """The segmentation network in eager torch."""

    def __init__(self, net: nn.Module, model_version: str) -> None:
        self.net = net.eval()
        self.model_version = model_version

    @classmethod
    def load(cls, model_dir: Path | None = None) -> TorchSegmenter:
        """Load ``segmenter.pt`` (with its card) from ``model_dir`` (None: shipped)."""
        path, card = torch_weights(model_dir, "segmenter")
        return cls(segmentation_net_of(card, path), card.model_version)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(self.net(torch.from_numpy(batch)).numpy())


class OnnxSegmenter(_LogitsSegmenter):
    """The segmentation network in onnxruntime (CPU)."""

    def __init__(self, onnx_path: Path, model_version: str, *, threads: int = 0) -> None:
        self._session = cpu_session(onnx_path, threads)
        self._input = self._session.get_inputs()[0].name
        self.model_version = model_version

    @classmethod
    def load(cls, model_dir: Path | None = None, *, threads: int = 0) -> OnnxSegmenter:
        """Load ``segmenter.onnx`` from ``model_dir`` (None: the shipped weights).

        Raises:
            WeightsNotFoundError: no weights or card there.
            ChecksumMismatchError: the weights differ from their card.
        """
        onnx_path, model_version = onnx_weights(model_dir, "segmenter")
        return cls(onnx_path, model_version, threads=threads)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32)
