"""How much weaker a single 2-D image query is than a study query, side by side.

For every case of a labelled BraTS-layout folder (``cases.csv``), leave-one-patient-out:
- study: the case vector simcase indexes (four sequences, the tumour's largest slice and
  its neighbours, 3-D context, the given mask);
- image + box: the post-contrast slice with the most tumour as a PNG would carry it
  (8-bit, radiological view), the tumour's bounding box drawn, through
  ``indexer.image_query.embed_image``;
- image, no box: the same slice with no box (the crop is centred on the image).
The archive side is always the indexed case vectors. P@5 is the share of the five
nearest with the query's diagnosis; chance is the share of each diagnosis.

    .venv/bin/python bench/image_query.py --data DIR [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import numpy as np

from dicom_conversion import MRSequence, read_brats_case
from indexer.image_query import ImageQuery, embed_image
from indexer.pipeline import embed_study, load_models


def p_at_5(
    vectors: np.ndarray, archive: np.ndarray, labels: list[str], patients: list[str]
) -> float:
    scores = vectors @ archive.T
    hits = []
    for i in range(len(vectors)):
        order = [j for j in np.argsort(-scores[i]) if patients[j] != patients[i]][:5]
        hits.append(np.mean([labels[j] == labels[i] for j in order]))
    return float(np.mean(hits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    with (args.data / "cases.csv").open() as f:
        rows = list(csv.DictReader(f))
    if args.limit:
        rows = rows[: args.limit]
    models = load_models(threads=int(os.environ.get("THREADS", "0")))
    study_vectors, boxed, unboxed = [], [], []
    for row in rows:
        study = read_brats_case(args.data / row["case_id"])
        assert study.mask is not None
        study_vectors.append(embed_study(study, models).vector)
        mask = study.mask > 0
        k = int(np.argmax(mask.sum(axis=(0, 1))))
        t1c = study.arrays[MRSequence.T1C][:, :, k]
        shown = np.flip(t1c.T, axis=(0, 1))
        top = np.percentile(shown[shown > 0], 99.5)
        grey = np.round(np.clip(shown / top, 0, 1) * 255)
        tumour = np.flip(mask[:, :, k].T, axis=(0, 1))
        r, c = np.nonzero(tumour)
        spacing = float(abs(study.affine[0, 0]))
        box = (int(r.min()), int(c.min()), int(r.max()) + 1, int(c.max()) + 1)
        boxed.append(embed_image(ImageQuery(grey, (spacing, spacing), box=box), models))
        unboxed.append(embed_image(ImageQuery(grey, (spacing, spacing)), models))
    labels = [r["diagnosis"] for r in rows]
    patients = [r.get("patient_id") or r["case_id"] for r in rows]
    archive = np.stack(study_vectors)
    shares = {d: labels.count(d) / len(labels) for d in sorted(set(labels))}
    print(
        f"cases {len(rows)}, model {models.model_version}, chance P@5 "
        f"{sum(s * s for s in shares.values()):.3f}"
    )
    for name, vectors in (
        ("study", archive),
        ("image + box", np.stack(boxed)),
        ("image, no box", np.stack(unboxed)),
    ):
        print(f"{name:14s} P@5 {p_at_5(vectors, archive, labels, patients):.3f}")


if __name__ == "__main__":
    main()
