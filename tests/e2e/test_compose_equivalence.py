"""docker/compose.yaml routes studies: its services, run natively with exactly its
environment and commands (tests/e2e/compose_native.py), take a study sent to Orthanc
through simcase and back into the study, show it through OHIF's proxy, link it from the
search API, and keep patient names and ids out of every log. Both delivery profiles:
``changes`` (the default: the listener follows Orthanc's /changes feed, the workers pull
by DICOMweb) and ``push`` (Orthanc's Python plugin runs simcase_forward.py and C-STOREs
the study to the listener, whose spool volume the workers read).

Docker cannot run here; this test is how a compose file that drifts from a working
set-up fails CI. Needs root (network and mount namespaces), Debian's Orthanc with its
DICOMweb and Python plugins, dcmtk, and the OHIF dist (docker/ohif/fetch-ohif.sh).
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydicom
import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.synth import write_corpus
from plugin.orthanc.config import ROUTED_METADATA
from tests.e2e.compose_native import (
    NativeCompose,
    active_services,
    compose_profiles,
    dockerfile_env,
    interpolate,
    load_compose,
    native_compose,
    network_aliases,
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
#: ORTHANC__STABLE_AGE in compose.yaml.
STABLE_AGE_S = 5


def test_compose_file_reads_as_the_emulation_expects() -> None:
    """The parts of compose.yaml the native run relies on (fast, no services)."""
    with pytest.raises(ValueError, match="SIMCASE_ADMIN_TOKEN"):
        load_compose({})
    with pytest.raises(ValueError, match="SIMCASE_SEARCH_TOKEN"):
        load_compose({"SIMCASE_ADMIN_TOKEN": TOKEN})
    compose = load_compose(SECRETS)
    assert compose_profiles({}) == ["changes"]  # docker/.env: the default delivery
    assert compose_profiles({"COMPOSE_PROFILES": "push"}) == ["push"]
    services = active_services(compose["services"], ["changes"])
    assert set(services) == {"postgres", "api", "listener", "worker", "orthanc", "ohif"}
    push = active_services(compose["services"], ["push"])
    assert set(push) == {"postgres", "api", "listener-push", "worker", "orthanc-push", "ohif"}
    assert all("healthcheck" in s for s in compose["services"].values()), "every one checked"
    assert start_order(services).index("orthanc") < start_order(services).index("listener")
    assert start_order(push).index("orthanc-push") < start_order(push).index("ohif")
    listener = services["listener"]["environment"]
    assert listener["SIMCASE_PACS__ORTHANC_URL"] == "http://orthanc:8042"
    assert listener["SIMCASE_API__ADMIN_TOKEN"] == TOKEN  # the merged anchor
    assert services["api"]["environment"]["SIMCASE_PACS__VIEWER_URL"].endswith(":3000")
    assert services["api"]["environment"]["SIMCASE_API__SEARCH_TOKEN"] == SEARCH_TOKEN
    orthanc = orthanc_configuration(services["orthanc"]["environment"])
    assert orthanc["DicomWeb"]["Enable"] is True and orthanc["StableAge"] == 5
    assert orthanc["DicomModalities"]["simcase"] == ["SIMCASE", "listener", 11112]
    assert orthanc["UserMetadata"] == {ROUTED_METADATA: 1024}  # the loop guard's mark
    assert "PythonScript" not in orthanc  # the default runs no simcase code in Orthanc
    # push: Orthanc runs the forward script in C-STORE mode; the listener does not follow
    # /changes; both answer to the default names, and the listener shares the spool.
    forward = orthanc_configuration(push["orthanc-push"]["environment"])
    assert forward["Simcase"] == {"Mode": "cstore", "Modality": "simcase"}
    script = forward["PythonScript"]
    assert f"../plugin/orthanc/simcase_forward.py:{script}:ro" in push["orthanc-push"]["volumes"]
    assert "SIMCASE_PACS__ORTHANC_URL" not in push["listener-push"]["environment"]
    assert network_aliases(push["orthanc-push"]) == ["orthanc"]
    assert network_aliases(push["listener-push"]) == ["listener"]
    spool = "spool:/var/lib/simcase/spool"
    assert spool in push["listener-push"]["volumes"] and spool in push["worker"]["volumes"]
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


@dataclass(frozen=True)
class Query:
    """The query study as a modality would send it, and what must stay out of logs."""

    folder: Path
    study_instance_uid: str
    secrets: set[str]


def _archive_and_query(compose_folder: Path) -> Query:
    """The archive in the `archive` volume (as `docker compose run api index /archive`
    reads it) and a query study outside the project."""
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
    secrets = {str(first.PatientName), str(first.PatientID)} - {""}
    with (archive / "cases.csv").open() as f:
        secrets |= {row["patient_id"] for row in csv.DictReader(f) if row.get("patient_id")}
    return Query(study_dir, str(first.StudyInstanceUID), secrets)


def _index_and_send(project: NativeCompose, query: Query) -> None:
    """The operator's one-off index, then a modality sends the study to Orthanc."""
    # docker compose run --rm api index /archive
    env = project.simcase_env("api")
    indexed = project.run(
        project.simcase_argv(["index", str(project.path("api", "/archive"))]), env
    )
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    # A modality sends the study to Orthanc (its published DICOM port).
    sent = project.run(
        ["storescu", "-R", "+sd", "+r", "-aec", "ORTHANC", "127.0.0.1", "4242", str(query.folder)],
        env={**os.environ, "TCP_NODELAY": "1"},
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr[-3000:]


def _routed_mark(project: NativeCompose, study_uid: str) -> str:
    """The loop guard's ``SimcaseRouted`` metadata on the study in Orthanc ('' if none)."""

    def read() -> str:
        (study_id,) = httpx.post(
            "http://127.0.0.1:8042/tools/find",
            json={"Level": "Study", "Query": {"StudyInstanceUID": study_uid}},
            timeout=30,
        ).json()
        mark = httpx.get(
            f"http://127.0.0.1:8042/studies/{study_id}/metadata/{ROUTED_METADATA}", timeout=30
        )
        return mark.text if mark.status_code == 200 else ""

    return project.netns.call(read)


def _no_patient_data_in(logs: str, query: Query) -> None:
    # The console handler wraps long lines: compare without the wrapping.
    unwrapped = "".join(logs.split())
    for secret in query.secrets:
        assert "".join(secret.split()) not in unwrapped, "a patient name or id reached a log"
    assert query.study_instance_uid in unwrapped  # logs carry UIDs


def test_compose_services_route_a_study(compose_folder: Path) -> None:
    query = _archive_and_query(compose_folder)
    study_uid = query.study_instance_uid
    with native_compose(compose_folder, SECRETS) as project:
        assert "listener" in project.services and "orthanc-push" not in project.services
        _index_and_send(project, query)

        # /changes follower (listener) -> worker pulls by DICOMweb -> results by C-STORE.
        series = _wait_for_results(project, study_uid)
        assert {s.get("Modality") for s in series} >= {"SR", "OT", "SEG"}
        # The loop guard: the follower marked the study routed, and handed it on once;
        # our own results, which make it stable again, are not routed back.
        assert _routed_mark(project, study_uid)
        time.sleep(3 * STABLE_AGE_S)
        assert len(_wait_for_results(project, study_uid)) == RESULT_SERIES
        received = _metric(project, 9101, "simcase_studies_received_total", source="dicomweb")
        assert received == 1
        # The worker timed the study from its queueing to the results delivered, once.
        latency = _metric(project, 9102, "simcase_study_latency_seconds_count", source="dicomweb")
        assert latency == 1

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
            files = [
                ("files", (p.name, p.read_bytes())) for p in sorted(query.folder.rglob("*.dcm"))
            ]
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
        assert set(query_info["map_point"]) == {"x", "y"}  # placed on the archive map

        logs = project.logs_full("api", "listener", "worker")
    _no_patient_data_in(logs, query)


def _metric(project: NativeCompose, port: int, name: str, **labels: str) -> float:
    """One sample of a process's ``/metrics`` (the listener's 9101, a worker's 9102)."""
    text = project.netns.call(
        lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    )
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_compose_push_profile_routes_a_study(compose_folder: Path) -> None:
    """``docker compose --profile push up``: Orthanc's Python plugin runs the forward
    script, which C-STOREs the stable study to the listener; the worker reads it from the
    shared spool volume and the results come back into the study, once."""
    query = _archive_and_query(compose_folder)
    study_uid = query.study_instance_uid
    instances = len(list(query.folder.rglob("*.dcm")))
    with native_compose(compose_folder, {**SECRETS, "COMPOSE_PROFILES": "push"}) as project:
        assert {"orthanc-push", "listener-push"} <= set(project.services)
        assert not {"orthanc", "listener"} & set(project.services)
        _index_and_send(project, query)

        series = _wait_for_results(project, study_uid)
        assert {s.get("Modality") for s in series} >= {"SR", "OT", "SEG"}
        # It came by C-STORE: the listener acknowledged every instance (Orthanc holds
        # the study, its SEG included) into the spool volume, which the worker read.
        assert _metric(project, 9101, "simcase_instances_received_total") >= instances
        assert _metric(project, 9101, "simcase_studies_received_total", source="spool") == 1
        assert _metric(project, 9101, "simcase_studies_received_total", source="dicomweb") == 0
        assert _metric(project, 9102, "simcase_studies_processed_total", outcome="answered") == 1
        # ... and timed it from the last acknowledged instance to the results delivered.
        assert _metric(project, 9102, "simcase_study_latency_seconds_count", source="spool") == 1
        spooled = compose_folder / "volumes" / "spool" / study_uid
        assert len(list(spooled.rglob("*.dcm"))) >= instances
        # The loop guard: the script marked the study; our own results, which make it
        # stable again, are not sent back round.
        assert _routed_mark(project, study_uid)
        time.sleep(3 * STABLE_AGE_S)
        assert len(_wait_for_results(project, study_uid)) == RESULT_SERIES
        assert _metric(project, 9101, "simcase_studies_received_total", source="spool") == 1

        logs = project.logs_full("api", "listener-push", "worker")
        orthanc_log = project.logs_full("orthanc-push")
    assert "simcase: study" in orthanc_log and "routed (cstore" in orthanc_log
    assert "following Orthanc changes" not in logs  # no /changes follower in this profile
    _no_patient_data_in(logs, query)
