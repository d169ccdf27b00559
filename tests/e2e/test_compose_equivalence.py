"""docker/compose.yaml routes studies: its services, run natively with exactly its
environment and commands (tests/e2e/compose_native.py), take a study sent to Orthanc
through simcase and back into the study, show it through OHIF's proxy, link it from the
search API, and keep patient names and ids out of every log.

Docker cannot run here; this test is how a compose file that drifts from a working
set-up fails CI. Needs root (network and mount namespaces), Debian's Orthanc with its
DICOMweb plugin, dcmtk, and the OHIF dist (docker/ohif/fetch-ohif.sh).
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom
import pytest

from models.synth import write_corpus
from tests.e2e.compose_native import (
    NativeCompose,
    dockerfile_env,
    interpolate,
    load_compose,
    native_compose,
    orthanc_configuration,
    start_order,
)
from tests.e2e.conftest import RESULT_SERIES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "compose-test-token-0123456789abcdef"
SEARCH_TOKEN = "compose-search-token-0123456789abcdef"
SECRETS = {"SIMCASE_ADMIN_TOKEN": TOKEN, "SIMCASE_SEARCH_TOKEN": SEARCH_TOKEN}
ARCHIVE_CASES = 9
RESULT_TIMEOUT_S = 240


def test_compose_file_reads_as_the_emulation_expects() -> None:
    """The parts of compose.yaml the native run relies on (fast, no services)."""
    with pytest.raises(ValueError, match="SIMCASE_ADMIN_TOKEN"):
        load_compose({})
    with pytest.raises(ValueError, match="SIMCASE_SEARCH_TOKEN"):
        load_compose({"SIMCASE_ADMIN_TOKEN": TOKEN})
    compose = load_compose(SECRETS)
    services = compose["services"]
    assert set(services) == {"postgres", "api", "listener", "worker", "orthanc", "ohif"}
    assert all("healthcheck" in s for s in services.values()), "every service is checked"
    assert start_order(services).index("orthanc") < start_order(services).index("listener")
    listener = services["listener"]["environment"]
    assert listener["SIMCASE_PACS__ORTHANC_URL"] == "http://orthanc:8042"
    assert listener["SIMCASE_API__ADMIN_TOKEN"] == TOKEN  # the merged anchor
    assert services["api"]["environment"]["SIMCASE_PACS__VIEWER_URL"].endswith(":3000")
    assert services["api"]["environment"]["SIMCASE_API__SEARCH_TOKEN"] == SEARCH_TOKEN
    orthanc = orthanc_configuration(services["orthanc"]["environment"])
    assert orthanc["DicomWeb"]["Enable"] is True and orthanc["StableAge"] == 5
    assert orthanc["DicomModalities"]["simcase"] == ["SIMCASE", "listener", 11112]
    assert dockerfile_env()["SIMCASE_DATA_DIR"] == "/var/lib/simcase"
    assert interpolate("${A:-x}-${B}", {"B": "y"}) == "x-y"
    for name in ("pgdata", "spool", "orthanc"):
        assert name in compose["volumes"]


@pytest.fixture
def compose_folder() -> Iterator[Path]:
    """A folder PostgreSQL's own user can reach (pytest's tmp folders are root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="simcase-compose-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_results(project: NativeCompose, study_uid: str) -> list[dict[str, str]]:
    def simcase_series() -> list[dict[str, str]]:
        found = httpx.post(
            "http://127.0.0.1:8042/tools/find",
            json={"Level": "Series", "Query": {"StudyInstanceUID": study_uid}, "Expand": True},
            timeout=30,
        ).json()
        tags = [s["MainDicomTags"] for s in found]
        return [t for t in tags if t.get("Manufacturer", "").strip().lower() == "simcase"]

    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while time.monotonic() < deadline:
        series = project.netns.call(simcase_series)
        if len(series) >= RESULT_SERIES:
            return series
        time.sleep(2)
    raise AssertionError(f"no simcase results in the study\n{project.logs()}")


def test_compose_services_route_a_study(compose_folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("the compose-equivalence test needs root (unshare --net --mount)")
    for tool in ("Orthanc", "storescu", "nsenter", "unshare", "setpriv"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (see .ci/run)")
    archive = compose_folder / "volumes" / "archive"
    write_corpus(archive, ARCHIVE_CASES, 5150, resolution_mm=2.0, workers=2)
    query = compose_folder / "query"
    write_corpus(query / "nifti", 1, 6262, resolution_mm=2.0, dicom_dir=query / "dicom")
    study_dir = next(p for p in (query / "dicom").iterdir() if p.is_dir())
    first = pydicom.dcmread(next(study_dir.rglob("*.dcm")), stop_before_pixels=True)
    study_uid = str(first.StudyInstanceUID)
    secrets = {str(first.PatientName), str(first.PatientID)} - {""}

    with native_compose(compose_folder, SECRETS) as project:
        # The operator's one-off step: docker compose run --rm api index /archive
        env = project.simcase_env("api")
        indexed = project.run(
            project.simcase_argv(["index", str(project.path("api", "/archive"))]), env
        )
        assert indexed.returncode == 0, indexed.stdout + indexed.stderr

        # A modality sends the study to Orthanc (its published DICOM port).
        sent = project.run(
            ["storescu", "-R", "+sd", "+r", "-aec", "ORTHANC", "127.0.0.1", "4242", str(study_dir)],
            env={**os.environ, "TCP_NODELAY": "1"},
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr[-3000:]

        # /changes follower (listener) -> worker pulls by DICOMweb -> results by C-STORE.
        series = _wait_for_results(project, study_uid)
        assert {s.get("Modality") for s in series} >= {"SR", "OT", "SEG"}

        # OHIF: the viewer page and the study with its results through the proxy.
        def ohif() -> tuple[str, list[object]]:
            page = httpx.get(
                f"http://127.0.0.1:3000/viewer?StudyInstanceUIDs={study_uid}", timeout=30
            )
            qido = httpx.get(
                f"http://127.0.0.1:3000/dicom-web/studies/{study_uid}/series", timeout=30
            )
            qido.raise_for_status()
            return page.text, qido.json()

        page, listed = project.netns.call(ohif)
        assert "<html" in page.lower() and "app-config.js" in page
        assert len(listed) >= 4 + RESULT_SERIES

        # The API: admin token required, search token required (off loopback); the search
        # links the query (in the PACS) to OHIF.
        def api() -> tuple[int, int, int, dict[str, object]]:
            jobs = "http://127.0.0.1:8000/api/v1/admin/jobs"
            refused = httpx.get(jobs, timeout=30).status_code
            allowed = httpx.get(jobs, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            files = [("files", (p.name, p.read_bytes())) for p in sorted(study_dir.rglob("*.dcm"))]
            search = "http://127.0.0.1:8000/api/v1/search"
            anonymous = httpx.post(search, files=files, timeout=300).status_code
            found = httpx.post(
                search,
                files=files,
                headers={"Authorization": f"Bearer {SEARCH_TOKEN}"},
                timeout=300,
            )
            found.raise_for_status()
            return refused, allowed.status_code, anonymous, found.json()

        refused, allowed, anonymous, result = project.netns.call(api)
        assert (refused, allowed, anonymous) == (401, 200, 401)
        query_info = result["query"]
        assert isinstance(query_info, dict)
        assert (
            query_info["viewer_url"]
            == f"http://localhost:3000/viewer?StudyInstanceUIDs={study_uid}"
        )
        assert query_info["patient_excluded"] is True

        logs = project.logs_full("api", "listener", "worker")
    with (archive / "cases.csv").open() as f:
        secrets |= {row["patient_id"] for row in csv.DictReader(f) if row.get("patient_id")}
    # The console handler wraps long lines: compare without the wrapping.
    unwrapped = "".join(logs.split())
    for secret in secrets:
        assert "".join(secret.split()) not in unwrapped, "a patient name or id reached a log"
    assert study_uid in unwrapped  # logs carry UIDs
