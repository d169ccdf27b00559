"""The /changes follower against a real Orthanc: routing, loop guard, resume."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg_pool import ConnectionPool
from pydicom import Dataset

from plugin.orthanc.changes import ChangesFollower, FilePosition, PostgresPosition, StableStudy
from plugin.results.sender import CStoreSender
from tests.integration.plugin.orthanc_fixture import OrthancServer
from tests.unit.plugin.result_samples import hits_for, results_for
from tests.unit.plugin.samples import mr_series

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def storescu(orthanc: OrthancServer, datasets: list[Dataset], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    subprocess.run(
        ["storescu", "-aec", orthanc.aet, "127.0.0.1", str(orthanc.dicom_port), *paths],
        env={**os.environ, "TCP_NODELAY": "1"},
        check=True,
        capture_output=True,
        timeout=60,
    )


def stable_changes(orthanc: OrthancServer, since: int) -> list[dict]:
    page = orthanc.get("/changes", since=since, limit=1000)
    return [c for c in page["Changes"] if c["ChangeType"] == "StableStudy"]


def wait_for_stable(orthanc: OrthancServer, since: int, timeout: float = 30) -> int:
    """Wait for a StableStudy change after ``since``; return its seq."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = stable_changes(orthanc, since)
        if found:
            return int(found[-1]["Seq"])
        time.sleep(0.3)
    raise AssertionError("no StableStudy change in time")


def last_seq(orthanc: OrthancServer) -> int:
    return int(orthanc.get("/changes", last="")["Last"])


def test_follower_routes_new_studies_once_and_ignores_its_own_results(
    orthanc: OrthancServer, tmp_path: Path
) -> None:
    seen: list[StableStudy] = []
    position = FilePosition(tmp_path / "position.json")
    follower = ChangesFollower(orthanc.url, position, seen.append)
    assert follower.poll_once() == []  # starts at the end of the feed

    series = mr_series(3, seed=1)
    study_uid = series[0].StudyInstanceUID
    before = last_seq(orthanc)
    storescu(orthanc, series, tmp_path / "study")
    wait_for_stable(orthanc, before)
    routed = follower.poll_once()
    assert [s.study_instance_uid for s in routed] == [study_uid]
    assert len(routed[0].series_ids) == 1
    routed_value = orthanc_text(orthanc, f"/studies/{routed[0].orthanc_id}/metadata/SimcaseRouted")
    assert routed_value == routed[0].series_ids[0]

    # simcase's results arrive: the study becomes stable again, and is not routed
    results = results_for(series, hits_for(2), np.ones((16, 16)), model_version="m1")
    before = last_seq(orthanc)
    CStoreSender(orthanc.aet, "127.0.0.1", orthanc.dicom_port).send(results)
    wait_for_stable(orthanc, before)
    assert follower.poll_once() == []

    # a late MR series re-triggers
    late = mr_series(2, study_uid=study_uid, series_number=5, seed=2)
    before = last_seq(orthanc)
    storescu(orthanc, late, tmp_path / "late")
    wait_for_stable(orthanc, before)
    again = follower.poll_once()
    assert [s.study_instance_uid for s in again] == [study_uid]
    assert len(again[0].series_ids) == 2
    assert [s.study_instance_uid for s in seen] == [study_uid, study_uid]

    # a non-MR study is not routed
    ct = mr_series(1, seed=3)
    for ds in ct:
        ds.Modality = "CT"
    before = last_seq(orthanc)
    storescu(orthanc, ct, tmp_path / "ct")
    wait_for_stable(orthanc, before)
    assert follower.poll_once() == []

    # a restarted follower resumes at the saved position: nothing is routed twice
    restarted = ChangesFollower(orthanc.url, FilePosition(tmp_path / "position.json"), seen.append)
    assert restarted.poll_once() == []
    assert position.load() is not None and position.load() >= before  # type: ignore[operator]
    follower.close()
    restarted.close()


def test_follower_recovers_when_orthanc_feed_goes_back(
    orthanc: OrthancServer, tmp_path: Path
) -> None:
    """A position saved against an older Orthanc database (far past today's feed) does not
    silence routing: the follower notices the feed went back and follows from its end."""
    position = FilePosition(tmp_path / "position.json")
    position.save(last_seq(orthanc) + 1_000_000)
    seen: list[StableStudy] = []
    follower = ChangesFollower(orthanc.url, position, seen.append)
    assert follower.poll_once() == []
    assert position.load() == last_seq(orthanc)

    series = mr_series(2, seed=7)
    before = last_seq(orthanc)
    storescu(orthanc, series, tmp_path / "study")
    wait_for_stable(orthanc, before)
    routed = follower.poll_once()
    assert [s.study_instance_uid for s in routed] == [series[0].StudyInstanceUID]
    follower.close()


def orthanc_text(orthanc: OrthancServer, path: str) -> str:
    import httpx

    response = httpx.get(orthanc.url + path, timeout=10)
    response.raise_for_status()
    return response.text


def test_postgres_position_round_trip(database_url: str) -> None:
    with ConnectionPool(database_url, min_size=1, max_size=1, open=True) as pool:
        position = PostgresPosition(pool, "orthanc-test")
        assert position.load() is None
        position.save(41)
        position.save(42)
        assert position.load() == 42
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM feed_positions").fetchone() == (1,)
