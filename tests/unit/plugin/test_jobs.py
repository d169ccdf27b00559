"""The worker's resources carry the settings, read once where the worker is built."""

from __future__ import annotations

from collections.abc import Iterable
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


DSN = "postgresql://nowhere.invalid/none"


def test_an_app_carries_exactly_the_tasks_it_is_built_with() -> None:
    import plugin.processing  # noqa: F401  (importing registers nothing)
    from indexer.jobs import JOB_QUEUE, create_job_app
    from indexer.tasks import INDEXER_TASKS
    from plugin.jobs import TASKS

    def simcase_tasks(tasks: Iterable[str]) -> set[str]:
        return {name for name in tasks if name.startswith("simcase:")}

    assert simcase_tasks(create_job_app(DSN, tasks=()).tasks) == set()
    indexer_only = create_job_app(DSN, tasks=INDEXER_TASKS)
    assert simcase_tasks(indexer_only.tasks) == {"simcase:delete_case", "simcase:reindex"}
    app = create_job_app(DSN, tasks=TASKS)
    assert simcase_tasks(app.tasks) == {
        "simcase:delete_case",
        "simcase:reindex",
        "simcase:process_study",
    }
    assert {app.tasks[name].queue for name in simcase_tasks(app.tasks)} == {JOB_QUEUE}
    assert app.tasks["simcase:reindex"].lock == "reindex"
