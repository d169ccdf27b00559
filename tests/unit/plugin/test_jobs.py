"""The worker's resources carry the settings, read once where the worker is built."""

from __future__ import annotations

from pathlib import Path

from indexer.store import IndexOptions
from plugin.jobs import WorkerResources, worker_resources
from plugin.settings import IndexSettings, Settings


def test_worker_resources_carry_the_settings_and_index_options(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        model_dir=tmp_path / "models",
        index=IndexSettings(hnsw_m=16, hnsw_ef_construction=64, hnsw_ef_search=40),
    )
    resources = worker_resources(settings, "postgresql://nowhere.invalid/none")
    assert isinstance(resources, WorkerResources)
    assert resources.settings is settings
    assert resources.conninfo == "postgresql://nowhere.invalid/none"
    assert resources.model_dir == tmp_path / "models"
    assert resources.options == IndexOptions(m=16, ef_construction=64, ef_search=40)
    assert "settings" not in repr(resources)
