"""The search page's API on a real database and a real Orthanc: a similar case's
pictures, the filters' validation, and which studies the PACS holds for OHIF links."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from pgvector import HalfVector
from pgvector.psycopg import register_vector
from PIL import Image
from pydicom.data import get_testdata_file

from indexer.case_images import CORE_COLOUR, WHOLE_COLOUR
from indexer.thumbnails import THUMBNAIL_SIZE
from models.synth import write_corpus
from plugin.api.viewer_links import add_viewer_links, studies_in_pacs
from tests.integration.plugin.orthanc_fixture import OrthancServer

pytestmark = pytest.mark.integration


@pytest.fixture
def client(open_api: Callable[..., TestClient]) -> TestClient:
    return open_api()


def _add_case(url: str, case_id: str, source_uri: str, *, given_mask: bool = True) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO cases (case_id, patient_id, diagnosis, age, sex, source_uri,"
            " given_mask, tumour) VALUES (%s, 'SECRET-PATIENT', 'glioma', 57, 'M', %s, %s,"
            " '{\"volume_ml\": 12.5}')",
            (case_id, source_uri, given_mask),
        )


def test_pictures_of_an_archive_case(client: TestClient, database_url: str, tmp_path: Path) -> None:
    write_corpus(tmp_path / "archive", 1, 77, resolution_mm=2.0)
    with (tmp_path / "archive" / "cases.csv").open() as f:
        case_id = next(csv.DictReader(f))["case_id"]
    _add_case(database_url, case_id, str(tmp_path / "archive" / case_id))
    response = client.get(f"/api/v1/cases/{case_id}/pictures")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mask_source"] == "given"
    assert body["diagnosis"] == "glioma" and body["age"] == 57 and body["sex"] == "M"
    assert body["tumour"] == {"volume_ml": 12.5}
    assert sorted(body["sequences"]) == ["FLAIR", "T1", "T1C", "T2"]
    for plane in ("axial", "coronal", "sagittal"):
        views = body["images"]["planes"][plane]
        assert views["outline"].startswith("data:image/png;base64,")
        assert set(views["sequences"]) == set(body["sequences"])
    assert "not for diagnostic use" in body["notice"].lower()
    assert "SECRET-PATIENT" not in response.text


def _colours(png: bytes) -> set[tuple[int, ...]]:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).reshape(-1, 4)
    return {tuple(int(v) for v in p) for p in np.unique(pixels[pixels[:, 3] > 0], axis=0)}


def test_outline_of_a_hit_card(client: TestClient, database_url: str, tmp_path: Path) -> None:
    write_corpus(tmp_path / "archive", 1, 78, resolution_mm=2.0)
    with (tmp_path / "archive" / "cases.csv").open() as f:
        case_id = next(csv.DictReader(f))["case_id"]
    _add_case(database_url, case_id, str(tmp_path / "archive" / case_id))  # no outline kept
    response = client.get(f"/api/v1/cases/{case_id}/outline.png")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE) and image.mode == "RGBA"
    # The query's drawing: whole tumour yellow, core red, nothing else; transparent elsewhere.
    assert _colours(response.content) and _colours(response.content) <= {WHOLE_COLOUR, CORE_COLOUR}
    # Drawn once and kept: served again after the case's images have moved away.
    shutil.rmtree(tmp_path / "archive" / case_id)
    again = client.get(f"/api/v1/cases/{case_id}/outline.png")
    assert again.status_code == 200 and again.content == response.content
    assert client.get("/api/v1/cases/nope/outline.png").status_code == 404
    _add_case(database_url, "gone", str(tmp_path / "moved-away"))
    gone = client.get("/api/v1/cases/gone/outline.png")
    assert gone.status_code == 409 and str(tmp_path) not in gone.text


def test_pictures_of_unknown_or_unreadable_cases(
    client: TestClient, database_url: str, tmp_path: Path
) -> None:
    assert client.get("/api/v1/cases/nope/pictures").status_code == 404
    _add_case(database_url, "gone", str(tmp_path / "moved-away"))
    response = client.get("/api/v1/cases/gone/pictures")
    assert response.status_code == 409
    assert str(tmp_path) not in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"age_min": 70, "age_max": 60}, "age_min is larger than age_max"),
        ({"metadata": "no-equals-sign"}, "is not key=value"),
        ({"sex": "X"}, "sex"),
    ],
)
def test_bad_filters_are_refused(
    client: TestClient, params: dict[str, object], message: str
) -> None:
    response = client.post(
        "/api/v1/search", params=params, files={"files": ("a.dcm", b"not dicom")}
    )
    assert response.status_code == 422
    assert message in response.text


def test_studies_in_pacs_asks_the_pacs(orthanc: OrthancServer) -> None:
    data = Path(str(get_testdata_file("MR_small.dcm"))).read_bytes()
    stored = httpx.post(f"{orthanc.url}/instances", content=data, timeout=30).json()
    uid = orthanc.get(f"/studies/{stored['ParentStudy']}")["MainDicomTags"]["StudyInstanceUID"]
    other = "1.2.826.0.1.3680043.8.498.999"
    assert studies_in_pacs(orthanc.dicomweb_url, [uid, other]) == {uid}
    result = {
        "query": {"study_instance_uid": uid},
        "results": [
            {"study_instance_uid": uid, "source": "archive"},
            {"study_instance_uid": other},
        ],
        "per_diagnosis": {},
    }
    add_viewer_links(result, "http://ohif.example", orthanc.dicomweb_url)
    assert result["query"]["viewer_url"] == f"http://ohif.example/viewer?StudyInstanceUIDs={uid}"
    assert result["results"][0]["viewer_url"].endswith(f"StudyInstanceUIDs={uid},{uid}")
    assert "viewer_url" not in result["results"][1]


def _seed_vectors(url: str, vectors: dict[str, tuple[str, list[float]]]) -> None:
    with psycopg.connect(url) as conn:
        register_vector(conn)
        conn.execute(
            "INSERT INTO model_versions (model_version, dim, state) VALUES ('m', 4, 'active')"
            " ON CONFLICT DO NOTHING"
        )
        for case_id, (diagnosis, vector) in vectors.items():
            conn.execute(
                "INSERT INTO cases (case_id, diagnosis) VALUES (%s, %s)", (case_id, diagnosis)
            )
            conn.execute(
                "INSERT INTO embeddings (case_id, model_version, embedding) VALUES (%s, 'm', %s)",
                (case_id, HalfVector(np.asarray(vector, dtype=np.float32))),
            )


def test_archive_map_places_cases_and_follows_the_archive(
    client: TestClient, database_url: str
) -> None:
    assert client.get("/api/v1/map").status_code == 409  # nothing indexed yet
    _seed_vectors(
        database_url,
        {
            "g1": ("glioma", [1, 0, 0, 0]),
            "g2": ("glioma", [0.9, 0.1, 0, 0]),
            "m1": ("meningioma", [0, 1, 0, 0]),
            "x1": ("metastasis", [0, 0, 1, 0]),
        },
    )
    body = client.get("/api/v1/map").json()
    assert body["model_version"] == "m" and body["total_cases"] == 4
    points = {p["case_id"]: p for p in body["points"]}
    assert {p["diagnosis"] for p in points.values()} == {"glioma", "meningioma", "metastasis"}
    mean = np.asarray(body["projection"]["mean"])
    components = np.asarray(body["projection"]["components"])
    # A query with g1's vector lands where g1 is.
    placed = (np.asarray([1, 0, 0, 0]) - mean) @ components.T
    assert placed == pytest.approx([points["g1"]["x"], points["g1"]["y"]], abs=1e-3)
    # The fit was stored on first read (an archive indexed before maps were kept); a
    # case indexed since is placed with that stored fit, which does not move.
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM archive_map_points").fetchone() == (4,)
    _seed_vectors(database_url, {"x2": ("metastasis", [0, 0, 0.8, 0.2])})
    again = client.get("/api/v1/map").json()
    assert len(again["points"]) == 5 and again["total_cases"] == 5
    assert again["projection"] == body["projection"]
    assert again["computed_at"] == body["computed_at"]
    x2 = next(p for p in again["points"] if p["case_id"] == "x2")
    placed = (np.asarray([0, 0, 0.8, 0.2]) - mean) @ components.T
    assert placed == pytest.approx([x2["x"], x2["y"]], abs=1e-3)


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((np.indices((64, 64)).sum(axis=0) * 2).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("params", "content", "status", "message"),
    [
        ({}, b"not an image", 422, "neither a PNG/JPEG image nor DICOM"),
        ({"sequence": "OTHER"}, None, 422, "sequence must be T1, T1C, T2 or FLAIR"),
        ({"box": "1,2"}, None, 422, "box must be x0,y0,x1,y1"),
        ({"box": "200,200,300,300"}, None, 422, "the box must cover"),
        # nothing indexed yet: the server's state, not the client's fault (issue 15)
        ({}, None, 409, "unknown model version"),
    ],
)
def test_image_search_refuses_what_it_cannot_use(
    client: TestClient, params: dict[str, str], content: bytes | None, status: int, message: str
) -> None:
    files = {"file": ("slice.png", content if content is not None else _png_bytes())}
    response = client.post("/api/v1/search/image", params=params, files=files)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
