"""A result set is built completely before anything is sent or written: the montage and
the report, and, after them, the outline objects, whose failures are found before the
report is built."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset

from plugin.processing import result_set
from plugin.processing.build import ResultSetParts, build_result_set
from plugin.results import QueryOutline, build_results
from plugin.results.build import build_outline
from plugin.results.folder import save_results
from plugin.results.outline_objects import NOT_FITTING, outline_refusal
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
    built = build_result_set(
        _parts(series, outline_for(series)), uid_seed="seed", supersedes=None, now=WHEN
    )
    assert built.outline is None
    notes = [t for t in _report_texts(built.main[-1]) if t.startswith("tumour outline (SEG)")]
    assert len(notes) == 1 and notes[0].startswith("tumour outline (SEG): not written (ValueError")
    final = result_set(built.main, [])
    folder = save_results(tmp_path, str(series[0].StudyInstanceUID), final)
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted(f"{ds.SOPInstanceUID}.dcm" for ds in final)


def test_the_report_goes_last_with_the_outline_before_it() -> None:
    series = mr_series(4)
    outline_objects = build_outline(outline_for(series), "m1", uid_seed="seed", now=WHEN)
    assert [o.Modality for o in outline_objects] == ["SEG", "SR"]
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


def _parts(series: list[Dataset], outline: QueryOutline) -> ResultSetParts:
    return ResultSetParts(
        query=query_for(series),
        hits=[],
        per_diagnosis={},
        source_datasets=series,
        model_version="m1",
        query_image=np.zeros((64, 64), np.uint8),
        outline=outline,
    )


def _built_or_nothing(outline: QueryOutline) -> list[Dataset]:
    """What building the outline objects gives: nothing when ``build_outline`` writes
    nothing or fails (an encoding error, or a numpy warning that the tests raise)."""
    try:
        return build_outline(outline, "m1", uid_seed="seed", now=WHEN)
    except Exception:  # any failure counts as "not built", as the worker treats it
        return []


def _report_texts(report: Dataset) -> list[str]:
    return [str(e.value) for e in report.iterall() if e.keyword == "TextValue"]


def test_the_outline_is_checked_before_the_report_and_built_after_it() -> None:
    """A buildable outline is not built with the report: it waits in ``outline`` and
    then gives the objects (and UIDs) it gave when built beside the report."""
    series = mr_series(4)
    outline = outline_for(series)
    assert outline_refusal(outline) is None
    built = build_result_set(_parts(series, outline), uid_seed="seed", supersedes=None, now=WHEN)
    assert [str(ds.Modality) for ds in built.main] == ["OT", "SR"]
    assert not any(t.startswith("tumour outline (SEG)") for t in _report_texts(built.main[-1]))
    assert built.outline is not None
    later = built.outline.build()
    together = build_outline(outline, "m1", uid_seed="seed", now=WHEN)
    assert [str(ds.SOPInstanceUID) for ds in later] == [str(ds.SOPInstanceUID) for ds in together]


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        ("nan-thickness", "not written (ValueError: SliceThickness"),
        ("inf-spacing", "not written (ValueError: PixelSpacing"),
        ("empty-mask", f"not written ({NOT_FITTING})"),
        ("other-grid", f"not written ({NOT_FITTING})"),
    ],
)
def test_an_unbuildable_outline_is_found_before_the_report(spoil: str, said: str) -> None:
    """What makes ``build_outline`` fail or write nothing is found without building it,
    so the report says the outline is not written and none is left to build."""
    series = _nan_thickness_series() if spoil == "nan-thickness" else mr_series(4)
    outline = outline_for(series)
    if spoil == "inf-spacing":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outline.series[0].PixelSpacing = [1.0, float("inf")]
    if spoil == "empty-mask":
        outline = replace(outline, mask=np.zeros_like(outline.mask))
    if spoil == "other-grid":
        coarser = outline.affine_ras @ np.diag([2.0, 2.0, 2.0, 1.0])  # needs resampling
        outline = replace(outline, affine_ras=coarser)
    assert _built_or_nothing(outline) == []  # what the check stands for
    built = build_result_set(_parts(series, outline), uid_seed="seed", supersedes=None, now=WHEN)
    assert built.outline is None
    notes = [t for t in _report_texts(built.main[-1]) if t.startswith("tumour outline (SEG)")]
    assert len(notes) == 1 and notes[0].startswith(f"tumour outline (SEG): {said}")
