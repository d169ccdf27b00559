"""The same (seed, index, resolution) gives the same files, whatever the workers."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from models.synth_b import SyntheticCase, write_corpus
from tests.unit.models.synth_b.conftest import RESOLUTION_MM, SEED


def test_files_equal_a_fresh_generation(
    corpus_dir: Path, cases_in_memory: list[SyntheticCase]
) -> None:
    for case in cases_in_memory:
        folder = corpus_dir / case.plan.case_id
        seg = np.asarray(nib.load(folder / f"{case.plan.case_id}-seg.nii.gz").dataobj)
        assert np.array_equal(seg, case.seg)
        for sequence, image in case.images.items():
            path = folder / f"{case.plan.case_id}-{sequence}.nii.gz"
            assert np.array_equal(np.asarray(nib.load(path).dataobj), image), path.name


def test_two_workers_write_the_same_bytes(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "parallel"
    write_corpus(out, cases=2, seed=SEED, resolution_mm=RESOLUTION_MM, workers=2)
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        for path in folder.iterdir():
            assert path.read_bytes() == (corpus_dir / folder.name / path.name).read_bytes()
