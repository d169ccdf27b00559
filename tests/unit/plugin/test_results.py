from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage

from plugin.results import ResultHit, build_results
from plugin.results.montage import MontageRow, render_montage, to_rgb8
from tests.unit.plugin.result_samples import hits_for, images_for, query_for
from tests.unit.plugin.samples import mr_series


def sr_texts(ds: object) -> list[str]:
    """Every concept name meaning and text value in an SR tree, depth first."""
    out: list[str] = []
    for item in getattr(ds, "ContentSequence", []):
        out.append(item.ConceptNameCodeSequence[0].CodeMeaning)
        for attr in ("TextValue", "UID"):
            if attr in item:
                out.append(str(item.get(attr)))
        if "MeasuredValueSequence" in item:
            out.append(str(item.MeasuredValueSequence[0].NumericValue))
        out.extend(sr_texts(item))
    return out


def test_searchable_query_gives_montage_and_report() -> None:
    source = mr_series(2)
    hits = hits_for(4)
    per = {"glioma": [hits[0], hits[3]], "metastasis": [hits[2]]}
    objs = build_results(
        query_for(source),
        hits,
        per_diagnosis=per,
        source_datasets=source,
        model_version="emb-test-1",
        query_image=np.random.default_rng(1).random((120, 100)),
        hit_images=images_for(hits),
        supersedes="1.2.826.0.1.3680043.8.498.99",
    )
    sc, sr = objs
    assert sc.SOPClassUID == SecondaryCaptureImageStorage
    assert sr.SOPClassUID == ComprehensiveSRStorage
    for ds in objs:
        assert ds.StudyInstanceUID == source[0].StudyInstanceUID
        assert ds.SeriesInstanceUID != source[0].SeriesInstanceUID
        assert ds.Manufacturer == "simcase"
        assert ds.SoftwareVersions == "emb-test-1"
        assert ds.SeriesDate and ds.SeriesTime
        assert "not for diagnostic use" in ds.SeriesDescription
        assert ds.PatientID == source[0].PatientID  # the query's own patient only
    assert sc.SeriesInstanceUID != sr.SeriesInstanceUID
    assert sc.pixel_array.shape[2] == 3 and sc.BurnedInAnnotation == "YES"
    texts = sr_texts(sr)
    for i, hit in enumerate(hits, start=1):
        assert f"Similar case #{i}" in texts
        assert hit.case_id in texts
    assert "Most similar glioma cases" in texts
    assert "Similar case #1 (glioma)" in texts
    assert "emb-test-1" in texts
    assert "T1C, T2, FLAIR" in texts and "T1" in texts  # used and missing
    assert "1.2.826.0.1.3680043.8.498.1" in texts  # matched study UID
    assert "1.2.826.0.1.3680043.8.498.99" in texts  # superseded report
    assert any("NOT FOR DIAGNOSTIC USE" in t for t in texts)


def test_no_tumour_gives_only_a_short_report() -> None:
    source = mr_series(1)
    objs = build_results(
        query_for(source, tumour_found=False),
        [],
        per_diagnosis=None,
        source_datasets=source,
        model_version="emb-test-1",
        query_image=None,
        hit_images={},
        supersedes=None,
    )
    assert len(objs) == 1
    texts = sr_texts(objs[0])
    assert any("No tumour found" in t for t in texts)
    assert not any(t.startswith("Similar case") for t in texts)


def test_not_a_brain_mr_says_so() -> None:
    source = mr_series(1)
    (sr,) = build_results(
        query_for(source, is_brain_mr=False, missing_sequences=("T1", "T1C", "T2", "FLAIR")),
        [],
        per_diagnosis=None,
        source_datasets=source,
        model_version="m",
        query_image=None,
        hit_images={},
        supersedes=None,
    )
    assert any("Not a brain MR" in t for t in sr_texts(sr))


def test_uid_seed_makes_uids_reproducible() -> None:
    source = mr_series(1)
    kwargs = {
        "per_diagnosis": None,
        "source_datasets": source,
        "model_version": "m",
        "query_image": np.zeros((8, 8)),
        "hit_images": {},
        "supersedes": None,
    }
    a = build_results(query_for(source), hits_for(2), uid_seed="s1", **kwargs)  # type: ignore[arg-type]
    b = build_results(query_for(source), hits_for(2), uid_seed="s1", **kwargs)  # type: ignore[arg-type]
    c = build_results(query_for(source), hits_for(2), **kwargs)  # type: ignore[arg-type]
    assert [d.SOPInstanceUID for d in a] == [d.SOPInstanceUID for d in b]
    assert {d.SOPInstanceUID for d in a}.isdisjoint(d.SOPInstanceUID for d in c)


def test_sources_must_be_the_query_study() -> None:
    with pytest.raises(ValueError, match="source_datasets"):
        build_results(
            query_for(mr_series(1)),
            [],
            per_diagnosis=None,
            source_datasets=mr_series(1),
            model_version="m",
            query_image=np.zeros((4, 4)),
            hit_images={},
            supersedes=None,
        )


def test_montage_tiles_and_missing_images() -> None:
    hit = ResultHit(rank=1, case_id="SYN-1-00001", diagnosis="glioma", similarity=0.5)
    pixels = render_montage(np.ones((50, 50)), [MontageRow(None, [hit])], {}, title="t", footer="f")
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.max() == 255  # text is drawn


def test_to_rgb8() -> None:
    grey = np.arange(100, dtype=np.float32).reshape(10, 10)
    rgb = to_rgb8(grey)
    assert rgb.shape == (10, 10, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    with pytest.raises(ValueError, match="image"):
        to_rgb8(np.zeros((2, 2, 2, 2)))
