""" "Open in OHIF" links: which studies get one and what they open."""

from __future__ import annotations

from typing import Any

from plugin.api.viewer_links import add_viewer_links, studies_in_pacs, viewer_url

QUERY = "1.2.826.0.1.3680043.8.498.1"
IN_PACS = "1.2.826.0.1.3680043.8.498.2"
ELSEWHERE = "1.2.826.0.1.3680043.8.498.3"


def _result() -> dict[str, Any]:
    hits = [
        {"case_id": "a", "source": "pacs", "study_instance_uid": IN_PACS},
        {"case_id": "b", "source": "archive", "study_instance_uid": ELSEWHERE},
        {"case_id": "c", "source": "archive", "study_instance_uid": None},
    ]
    return {
        "query": {"study_instance_uid": QUERY},
        "results": hits,
        "per_diagnosis": {"glioma": [dict(hits[0], rank=1)]},
    }


def test_viewer_url_opens_the_studies_together() -> None:
    assert viewer_url("http://pacs:3000/", QUERY, IN_PACS) == (
        f"http://pacs:3000/viewer?StudyInstanceUIDs={QUERY},{IN_PACS}"
    )


def test_without_dicomweb_only_cases_indexed_from_the_pacs_are_linked() -> None:
    result = add_viewer_links(_result(), "http://ohif", None)
    assert "viewer_url" not in result["query"]
    first, second, third = result["results"]
    assert first["viewer_url"] == f"http://ohif/viewer?StudyInstanceUIDs={IN_PACS}"
    assert "viewer_url" not in second and "viewer_url" not in third
    assert result["per_diagnosis"]["glioma"][0]["viewer_url"] == first["viewer_url"]


def test_an_unreachable_pacs_gives_no_links_and_no_error() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    assert studies_in_pacs("http://127.0.0.1:9/dicom-web", [QUERY]) == set()
    result = add_viewer_links(_result(), "http://ohif", "http://127.0.0.1:9/dicom-web")
    assert all("viewer_url" not in h for h in [result["query"], *result["results"]])


def test_values_that_are_not_uids_are_never_sent() -> None:
    assert studies_in_pacs("http://127.0.0.1:9/dicom-web", ["../../x", "", "1.2.a"]) == set()
