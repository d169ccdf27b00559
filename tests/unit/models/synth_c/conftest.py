"""Shared, module-cached generator-C cases: a small 4 mm corpus and a few 2 mm cases in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.synth_c import CorpusSummary, write_corpus
from models.synth_c.case import SynthCase, synthesise_case

SEED = 6101
CORPUS_CASES = 9


@pytest.fixture(scope="session")
def corpus_4mm(tmp_path_factory: pytest.TempPathFactory) -> CorpusSummary:
    """Nine cases at 4 mm (three of each diagnosis), written by one worker."""
    out = tmp_path_factory.mktemp("synth_c") / "corpus"
    return write_corpus(out, cases=CORPUS_CASES, seed=SEED, resolution_mm=4.0)


@pytest.fixture(scope="session")
def cases_2mm() -> list[SynthCase]:
    """Cases 0..5 of the corpus at 2 mm, in memory (two of each diagnosis)."""
    return [synthesise_case(SEED, index, 2.0, 0.15) for index in range(6)]


@pytest.fixture(scope="session")
def corpus_dir(corpus_4mm: CorpusSummary) -> Path:
    return corpus_4mm.out_dir
