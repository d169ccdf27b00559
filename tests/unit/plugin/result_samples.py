"""Query facts, hits and images for result-object tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom import Dataset

from plugin.results import QueryFacts, QueryOutline, ResultHit, build_results

__all__ = [
    "DIAGNOSES",
    "hits_for",
    "images_for",
    "outline_for",
    "query_for",
    "results_for",
]

DIAGNOSES = ("glioma", "meningioma", "metastasis")


def query_for(source: list[Dataset], **overrides: object) -> QueryFacts:
    values: dict[str, object] = {
        "study_instance_uid": str(source[0].StudyInstanceUID),
        "sequences_used": ("T1C", "T2", "FLAIR"),
        "missing_sequences": ("T1",),
        "tumour_volume_ml": 23.4,
        "location": "left frontal",
        "tumour_slice": 77,
    }
    values.update(overrides)
    return QueryFacts(**values)  # type: ignore[arg-type]


def hits_for(n: int = 4) -> list[ResultHit]:
    return [
        ResultHit(
            rank=i + 1,
            case_id=f"SYN-7-{i:05d}",
            diagnosis=DIAGNOSES[i % 3],
            similarity=0.95 - 0.05 * i,
            tumour_volume_ml=10.0 + i,
            location="right parietal",
            study_instance_uid="1.2.826.0.1.3680043.8.498.1" if i == 0 else None,
        )
        for i in range(n)
    ]


def images_for(hits: list[ResultHit], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {h.case_id: rng.random((96, 128)).astype(np.float32) * 800 for h in hits}


def outline_for(source: list[Dataset], *, mask_source: str = "segmenter") -> QueryOutline:
    """A tumour mask with all three compartments on the canonical grid of ``source``."""
    from dicom_conversion.series_loading import load_series
    from plugin.results.segmentation import source_series

    array, affine = load_series(source).canonical()
    mask = np.zeros(array.shape, dtype=np.uint8)
    mask[4:12, 4:12, :] = 2
    mask[6:10, 6:10, :] = 3
    mask[7:9, 7:9, 1:] = 1
    series = source_series(source, str(source[0].SeriesInstanceUID))
    return QueryOutline(mask, affine, series, mask_source)


def results_for(
    source: list[Dataset],
    hits: list[ResultHit],
    query_image: np.ndarray,
    *,
    per_diagnosis: dict[str, list[ResultHit]] | None = None,
    supersedes: str | None = None,
    model_version: str = "emb-test-1",
    **options: Any,
) -> list[Dataset]:
    """``build_results`` for ``source`` with sample query facts, hit images and model version.

    ``options`` go to ``build_results`` as they are (``uid_seed``, ``outline``, ``now``).
    """
    return build_results(
        query_for(source),
        hits,
        per_diagnosis=per_diagnosis,
        source_datasets=source,
        model_version=model_version,
        query_image=query_image,
        hit_images=images_for(hits),
        supersedes=supersedes,
        **options,
    )
