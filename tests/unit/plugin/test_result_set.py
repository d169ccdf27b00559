"""A result set is built completely before anything is sent or written."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset

from plugin.processing import build_outline_safely, result_set
from plugin.results import build_results
from plugin.results.build import build_outline
from plugin.results.folder import save_results
from tests.unit.plugin.result_samples import hits_for, outline_for, query_for
from tests.unit.plugin.samples import mr_series

WHEN = dt.datetime(2026, 1, 2, 3, 4, 5)


def _nan_thickness_series() -> list[Dataset]:
    series = mr_series(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ds in series:
            ds.SliceThickness = float("nan")
    return series


def test_nan_slice_thickness_fails_the_outline_builder() -> None:
    """What sank the result set before: the SEG failed after montage and report were out."""
    with pytest.raises(ValueError, match="non-finite"):
        build_outline(outline_for(_nan_thickness_series()), "m1", uid_seed="s", now=WHEN)


def test_a_result_set_with_an_unwritable_outline_is_complete_without_it(
    tmp_path: Path,
) -> None:
    series = _nan_thickness_series()
    outline_objects, note = build_outline_safely(outline_for(series), "m1", "seed", WHEN)
    assert outline_objects == []
    assert note is not None and note.startswith("not written (ValueError")
    query = query_for(series, extra=(("tumour outline (SEG)", note),))
    objects = build_results(
        query,
        hits_for(3),
        per_diagnosis=None,
        source_datasets=series,
        model_version="m1",
        query_image=np.zeros((64, 64), np.uint8),
        hit_images={},
        supersedes=None,
        uid_seed="seed",
        now=WHEN,
    )
    final = result_set(objects, outline_objects)
    folder = save_results(tmp_path, str(series[0].StudyInstanceUID), final)
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(f"{ds.SOPInstanceUID}.dcm" for ds in final)
    texts = [str(e.value) for e in final[-1].iterall() if e.keyword == "TextValue"]
    assert any(t.startswith("tumour outline (SEG): not written") for t in texts)


def test_the_report_goes_last_with_the_outline_before_it() -> None:
    series = mr_series(4)
    outline_objects, note = build_outline_safely(outline_for(series), "m1", "seed", WHEN)
    assert note is None and [o.Modality for o in outline_objects] == ["SEG", "SR"]
    objects = build_results(
        query_for(series),
        hits_for(3),
        per_diagnosis=None,
        source_datasets=series,
        model_version="m1",
        query_image=np.zeros((64, 64), np.uint8),
        hit_images={},
        supersedes=None,
        uid_seed="seed",
        now=WHEN,
    )
    final = result_set(objects, outline_objects)
    assert final[-1] is objects[-1]
    assert final[-3:-1] == outline_objects
