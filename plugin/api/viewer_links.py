""" "Open in OHIF" links for a query and the similar cases that live in the PACS.

A study is linked only when the PACS answers a QIDO-RS query for its
StudyInstanceUID (or, without a DICOMweb URL, when the case was indexed from the
PACS). OHIF opens several studies together with ``/viewer?StudyInstanceUIDs=a,b``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import httpx

from plugin.dicom.uids import is_dicom_uid

__all__ = ["add_viewer_links", "studies_in_pacs", "viewer_url"]

log = logging.getLogger(__name__)

#: Seconds for each QIDO-RS request: a slow PACS never holds up the search results.
QIDO_TIMEOUT_S = 3.0


def studies_in_pacs(dicomweb_url: str, study_instance_uids: Iterable[str]) -> set[str]:
    """The UIDs among ``study_instance_uids`` that the PACS knows (QIDO-RS, one request each).

    A PACS that cannot be reached answers "none": links are left out, the search is not
    failed.
    """
    found: set[str] = set()
    uids = sorted({u for u in study_instance_uids if is_dicom_uid(u)})
    if not uids:
        return found
    base = dicomweb_url.rstrip("/")
    try:
        with httpx.Client(timeout=QIDO_TIMEOUT_S) as client:
            for uid in uids:
                response = client.get(
                    f"{base}/studies",
                    params={"StudyInstanceUID": uid, "includefield": "0020000D"},
                    headers={"Accept": "application/dicom+json"},
                )
                if response.status_code == 200 and response.content.strip():
                    if any(_uid_of(study) == uid for study in response.json()):
                        found.add(uid)
                elif response.status_code not in (200, 204):
                    log.warning(
                        "QIDO-RS answered %s", response.status_code, extra={"study_uid": uid}
                    )
    except httpx.HTTPError as exc:
        log.warning("PACS not reachable for viewer links: %s", type(exc).__name__)
    return found


def _uid_of(study: dict[str, Any]) -> str | None:
    values = study.get("0020000D", {}).get("Value", [])
    return str(values[0]) if values else None


def viewer_url(base: str, *study_instance_uids: str) -> str:
    """``<base>/viewer?StudyInstanceUIDs=a,b``."""
    uids = ",".join(quote(u, safe="") for u in study_instance_uids)
    return f"{base.rstrip('/')}/viewer?StudyInstanceUIDs={uids}"


def add_viewer_links(result: dict[str, Any], base: str, dicomweb_url: str | None) -> dict[str, Any]:
    """Set ``viewer_url`` on the query and on each hit that lives in the PACS.

    A hit's link opens the query beside it when the query is in the PACS too.
    """
    hits = [*result["results"], *(h for g in result["per_diagnosis"].values() for h in g)]
    query = result["query"]
    query_uid = query.get("study_instance_uid")
    if dicomweb_url:
        candidates = [query_uid, *(h.get("study_instance_uid") for h in hits)]
        present = studies_in_pacs(dicomweb_url, [u for u in candidates if u])
    else:
        present = {h["study_instance_uid"] for h in hits if h.get("source") == "pacs"}
        present.discard(None)
    query_in_pacs = query_uid in present
    if query_in_pacs:
        query["viewer_url"] = viewer_url(base, query_uid)
    for hit in hits:
        uid = hit.get("study_instance_uid")
        if uid in present:
            hit["viewer_url"] = viewer_url(base, *((query_uid, uid) if query_in_pacs else (uid,)))
    return result
