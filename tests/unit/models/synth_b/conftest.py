"""One small generator-B corpus (4 mm, 10 cases) shared by the tests of this folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.synth_b import SyntheticCase, generate_case, write_corpus

SEED = 11
CASES = 10
RESOLUTION_MM = 4.0


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth_b") / "corpus"
    write_corpus(out, cases=CASES, seed=SEED, resolution_mm=RESOLUTION_MM)
    return out


@pytest.fixture(scope="session")
def cases_in_memory() -> list[SyntheticCase]:
    return [generate_case(SEED, index, RESOLUTION_MM, with_tissue=True) for index in range(CASES)]
