"""The CPU sessions without spinning threads give the scores of onnxruntime's default
session bit for bit (the setting changes how idle threads wait, not the arithmetic)."""

from __future__ import annotations

import numpy as np

from models.onnx_session import cpu_session
from models.registry import SHIPPED_MODEL_DIR
from models.segmenter import (
    brain_box,
    pad_to_multiple,
    resample_channels,
    segmenter_grid_shape,
)
from models.study_arrays import normalised_channels, voxel_spacing
from tests.unit.models.toy_studies import toy_study


def test_sessions_are_quiet_between_runs() -> None:
    key = "session.intra_op.allow_spinning"
    quiet = cpu_session(SHIPPED_MODEL_DIR / "embedder.onnx", 2)
    assert quiet.get_session_options().get_session_config_entry(key) == "0"
    spinning = cpu_session(SHIPPED_MODEL_DIR / "embedder.onnx", 2, spinning=True)
    assert spinning.get_session_options().get_session_config_entry(key) == "1"


def test_segmenter_scores_equal_with_and_without_spinning() -> None:
    study = toy_study(spacing=1.0, tumour_radius_mm=16.0)
    channels = normalised_channels(study)
    grid = segmenter_grid_shape(channels.shape[1:], voxel_spacing(study.affine))
    small = resample_channels(channels, grid)
    padded, _ = pad_to_multiple(small[(slice(None), *brain_box(np.any(small != 0, axis=0)))])
    path = SHIPPED_MODEL_DIR / "segmenter.onnx"
    outputs = []
    for session in (cpu_session(path, 2), cpu_session(path, 2, spinning=True)):
        feed = {session.get_inputs()[0].name: padded[None]}
        outputs.append(np.asarray(session.run(None, feed)[0]))
    assert outputs[0].shape[1] == 4
    assert outputs[0].tobytes() == outputs[1].tobytes()
