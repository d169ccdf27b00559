"""Embedders: a tumour (study + mask) or single crops to L2-normalised vectors.

:class:`OnnxEmbedder` (onnxruntime) is what the indexer uses; :class:`TorchEmbedder`
runs the same network in torch (training, evaluation of checkpoints, the ONNX check).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from models.context import CONTEXT_SIZE_PX, brain_mask
from models.errors import InvalidStudyError
from models.networks.embedding_net import EmbeddingNet
from models.onnx_session import cpu_session, onnx_weights, torch_weights
from models.signs import tumour_signs
from models.slices import select_tumour_slices
from models.study_arrays import StudyLike, normalised_channels

__all__ = ["Embedder", "OnnxEmbedder", "TorchEmbedder", "combine_rows"]

_BATCH = 64


def combine_rows(rows: np.ndarray) -> np.ndarray:
    """The case vector: the normalised mean of the per-slice rows."""
    mean = np.asarray(rows, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        raise InvalidStudyError("the slice embeddings cancel out; no case vector")
    return np.asarray(mean / norm, dtype=np.float32)


@runtime_checkable
class Embedder(Protocol):
    """Turns a tumour into vectors for similarity search."""

    @property
    def model_version(self) -> str:
        """Identifies the weights (recorded with every indexed vector)."""
        ...

    @property
    def dim(self) -> int:
        """Length of each vector."""
        ...

    @property
    def context_channels(self) -> int:
        """Context planes the network takes besides the crops (0: none)."""
        ...

    def embed(
        self, study: StudyLike, mask: np.ndarray, *, channels: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-slice vectors float32 ``[n, dim]``, L2-normalised (central slice in the middle).

        ``channels``: the study's normalised channels when the caller has them already
        (e.g. from segmenting it).
        """
        ...

    def embed_case(
        self, study: StudyLike, mask: np.ndarray, *, channels: np.ndarray | None = None
    ) -> np.ndarray:
        """One vector float32 ``[dim]`` for the case, L2-normalised."""
        ...

    @property
    def sign_count(self) -> int:
        """Measured signs (:mod:`models.signs`) the network takes (0: none)."""
        ...

    def embed_crops(
        self,
        crops: np.ndarray,
        context: np.ndarray | None = None,
        signs: np.ndarray | None = None,
    ) -> np.ndarray:
        """Vectors for ready crops ``[n, 4, S, S]`` (e.g. one uploaded slice).

        ``context``: the tumour's context planes ``[K, s, s]`` (shared by all crops) or
        ``[n, K, s, s]``; without them a context network sees empty planes.
        ``signs``: the tumour's measured signs ``[S]`` (:func:`models.signs.tumour_signs`);
        without them a network that takes signs ranks by the image alone.
        """
        ...


class _CropEmbedder:
    """Shared study -> crops -> vectors logic."""

    model_version: str
    dim: int
    #: Context planes the network takes (0: crops only).
    context_channels: int
    #: Measured signs the network takes (0: none).
    sign_count: int

    def embed_crops(
        self,
        crops: np.ndarray,
        context: np.ndarray | None = None,
        signs: np.ndarray | None = None,
    ) -> np.ndarray:
        batch = np.ascontiguousarray(crops, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1] != 4:
            raise InvalidStudyError(f"crops must be [n, 4, S, S], got shape {batch.shape}")
        planes = self._context_batch(context, len(batch))
        rows = self._signs_batch(signs, len(batch))
        parts = [
            self._run(
                batch[i : i + _BATCH],
                None if planes is None else planes[i : i + _BATCH],
                None if rows is None else rows[i : i + _BATCH],
            )
            for i in range(0, len(batch), _BATCH)
        ]
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.concatenate(parts).astype(np.float32)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _context_batch(self, context: np.ndarray | None, n: int) -> np.ndarray | None:
        """Context planes ``[n, K, s, s]`` for the network (None: it takes none)."""
        if self.context_channels == 0:
            return None
        shape = (self.context_channels, CONTEXT_SIZE_PX, CONTEXT_SIZE_PX)
        if context is None:
            return np.zeros((n, *shape), dtype=np.float32)
        planes = np.asarray(context, dtype=np.float32)
        if planes.shape == shape:
            planes = np.broadcast_to(planes, (n, *shape))
        if planes.shape != (n, *shape):
            raise InvalidStudyError(
                f"context must be {list(shape)} or [{n}, {', '.join(map(str, shape))}], "
                f"got shape {planes.shape}"
            )
        return np.ascontiguousarray(planes)

    def _signs_batch(self, signs: np.ndarray | None, n: int) -> np.ndarray | None:
        """Sign rows ``[n, S]`` for the network (None: it takes none)."""
        if self.sign_count == 0:
            return None
        if signs is None:
            return np.zeros((n, self.sign_count), dtype=np.float32)
        row = np.asarray(signs, dtype=np.float32).reshape(-1)
        if row.shape[0] < self.sign_count:
            raise InvalidStudyError(
                f"signs must be at least [{self.sign_count}], got shape {row.shape}"
            )
        # Signs are only ever appended (models.signs): a head fitted to the first S takes
        # the first S of a longer row.
        row = row[: self.sign_count]
        return np.ascontiguousarray(np.broadcast_to(row, (n, self.sign_count)))

    def embed(
        self, study: StudyLike, mask: np.ndarray, *, channels: np.ndarray | None = None
    ) -> np.ndarray:
        if channels is None:
            channels = normalised_channels(study)
        brain = brain_mask(channels)  # one mask of the head for the context and the signs
        slices = select_tumour_slices(study, mask, channels=channels, brain=brain)
        signs = tumour_signs(channels, mask, study.affine, brain=brain) if self.sign_count else None
        return self.embed_crops(slices.crops, slices.context, signs)

    def embed_case(
        self, study: StudyLike, mask: np.ndarray, *, channels: np.ndarray | None = None
    ) -> np.ndarray:
        return combine_rows(self.embed(study, mask, channels=channels))

    def _run(
        self, batch: np.ndarray, context: np.ndarray | None, signs: np.ndarray | None
    ) -> np.ndarray:
        raise NotImplementedError


class TorchEmbedder(_CropEmbedder):
    """The embedding network in eager torch.

    Args:
        net: the network (put in eval mode here).
        model_version: version string to report.
    """

    def __init__(self, net: EmbeddingNet, model_version: str) -> None:
        self.net = net.eval()
        self.model_version = model_version
        self.dim = net.out_dim
        self.context_channels = net.context_channels
        self.sign_count = net.sign_count

    @classmethod
    def load(cls, model_dir: Path | None = None) -> TorchEmbedder:
        """Load ``embedder.pt`` (with its card) from ``model_dir`` (None: shipped)."""
        path, card = torch_weights(model_dir, "embedder")
        net = EmbeddingNet.from_architecture(card.architecture)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return cls(net, card.model_version)

    def _run(
        self, batch: np.ndarray, context: np.ndarray | None, signs: np.ndarray | None
    ) -> np.ndarray:
        planes = None if context is None else torch.from_numpy(context)
        rows = None if signs is None else torch.from_numpy(signs)
        with torch.inference_mode():
            return np.asarray(self.net(torch.from_numpy(batch), planes, rows).numpy())


class OnnxEmbedder(_CropEmbedder):
    """The embedding network in onnxruntime (CPU).

    Args:
        onnx_path: the ``embedder.onnx`` file.
        model_version: version string to report.
        threads: intra-op threads (0: onnxruntime's default).
    """

    def __init__(self, onnx_path: Path, model_version: str, *, threads: int = 0) -> None:
        self._session = cpu_session(onnx_path, threads)
        inputs = {item.name: item for item in self._session.get_inputs()}
        self.model_version = model_version
        self.dim = int(self._session.get_outputs()[0].shape[1])
        self.context_channels = int(inputs["context"].shape[1]) if "context" in inputs else 0
        self.sign_count = int(inputs["signs"].shape[1]) if "signs" in inputs else 0

    @classmethod
    def load(cls, model_dir: Path | None = None, *, threads: int = 0) -> OnnxEmbedder:
        """Load ``embedder.onnx`` from ``model_dir`` (None: the shipped weights).

        Raises:
            WeightsNotFoundError: no weights or card there.
            ChecksumMismatchError: the weights differ from their card.
        """
        onnx_path, model_version = onnx_weights(model_dir, "embedder")
        return cls(onnx_path, model_version, threads=threads)

    def _run(
        self, batch: np.ndarray, context: np.ndarray | None, signs: np.ndarray | None
    ) -> np.ndarray:
        feed = {"crops": batch}
        if context is not None:
            feed["context"] = context
        if signs is not None:
            feed["signs"] = signs
        result = self._session.run(None, feed)[0]
        return np.asarray(result, dtype=np.float32)
