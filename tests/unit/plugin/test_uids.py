"""A received StudyInstanceUID never becomes a path outside the results folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.jobs import create_job_app
from plugin.dicom.uids import is_dicom_uid, require_uid, safe_component
from plugin.errors import InvalidUidError
from plugin.jobs import TASKS, enqueue_process_study
from plugin.results.folder import results_folder, save_results
from tests.unit.plugin.samples import mr_series

HOSTILE = [
    "../../../../x",
    "/etc/passwd-simcase",
    "..",
    "1.2.3/../../x",
    "1.2.3\x00",
    "1" * 65,
    "",
    "1..2",
    ".1.2",
    "1.2.",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_not_uids(value: str) -> None:
    assert not is_dicom_uid(value)
    with pytest.raises(InvalidUidError, match="StudyInstanceUID"):
        require_uid(value)


def test_uids_pass() -> None:
    assert require_uid("1.2.840.10008.5.1.4.1.1.4") == "1.2.840.10008.5.1.4.1.1.4"
    assert is_dicom_uid("1" * 64)
    assert safe_component("1.2.3") == "1.2.3"


@pytest.mark.parametrize("value", HOSTILE[:4])
def test_results_stay_inside_the_results_folder(tmp_path: Path, value: str) -> None:
    root = tmp_path / "data" / "results"
    batch = mr_series(2)
    folder = save_results(root, value, batch)
    assert folder == results_folder(root, value)
    assert folder.parent == root
    assert folder.resolve().is_relative_to(root.resolve())
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{ds.SOPInstanceUID}.dcm" for ds in batch
    )
    assert [p for p in (tmp_path).rglob("*") if p.is_file() and root not in p.parents] == []


def test_saving_is_all_or_nothing(tmp_path: Path) -> None:
    batch = mr_series(3)
    del batch[2].file_meta.TransferSyntaxUID  # cannot be encoded: nothing is written
    with pytest.raises(Exception):  # noqa: B017 - whatever pydicom raises
        save_results(tmp_path, "1.2.3", batch)
    assert list((tmp_path / "1.2.3").iterdir()) == []


def test_process_study_is_never_queued_for_a_non_uid() -> None:
    app = create_job_app("postgresql://nowhere.invalid/none", tasks=TASKS)
    with pytest.raises(InvalidUidError):
        enqueue_process_study(app, "postgresql://nowhere.invalid/none", "../../x", "spool")
