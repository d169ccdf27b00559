"""simcase's optional Orthanc Python plugin script: push stable MR studies to simcase.

For sites that prefer push to simcase following Orthanc's ``/changes`` feed. Load it
with Orthanc's Python plugin (``"PythonScript": ".../simcase_forward.py"``) and a
``Simcase`` section in Orthanc's configuration:

* ``"Mode": "cstore"`` (default): C-STORE the study's series to the DICOM modality
  named ``"Modality"`` (default ``"simcase"``, i.e. simcase's listener);
* ``"Mode": "notify"``: POST to ``"NotifyUrl"`` (default
  ``http://127.0.0.1:8000/api/v1/studies/{study_uid}/search``), with
  ``Authorization: Bearer <"Token">`` when a token is set; simcase then pulls the
  study by DICOMweb.

The loop guard is the same as simcase's (plugin/orthanc/loop_guard.py): a study is
routed only when it holds an MR series and a series that is neither simcase's own
(Manufacturer ``simcase``) nor routed before; routed series are recorded in the study's
``SimcaseRouted`` user metadata. The work runs on a worker thread, never on Orthanc's
change thread. This script runs inside Orthanc (the Python plugin is AGPL): it stays a
thin shim and imports nothing from simcase.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.request
from typing import Any

import orthanc  # type: ignore[import-not-found]

ROUTED = "SimcaseRouted"
OWN_MANUFACTURER = "simcase"
ATTEMPTS = 3

_settings: dict[str, Any] = json.loads(orthanc.GetConfiguration()).get("Simcase", {})
MODE = str(_settings.get("Mode", "cstore"))
MODALITY = str(_settings.get("Modality", "simcase"))
NOTIFY_URL = str(
    _settings.get("NotifyUrl", "http://127.0.0.1:8000/api/v1/studies/{study_uid}/search")
)
TOKEN = _settings.get("Token")

_work: queue.Queue[str | None] = queue.Queue()


def _get(uri: str) -> Any:
    return json.loads(orthanc.RestApiGet(uri))


def _routed(study_id: str) -> set[str]:
    try:
        value = orthanc.RestApiGet(f"/studies/{study_id}/metadata/{ROUTED}")
    except Exception:  # no metadata yet (404)
        return set()
    text = value.decode() if isinstance(value, bytes) else str(value)
    return {s for s in text.split(",") if s.strip()}


def _decide(study_id: str) -> tuple[bool, list[str], str]:
    series = _get(f"/studies/{study_id}/series")
    theirs = [
        s
        for s in series
        if s.get("MainDicomTags", {}).get("Manufacturer", "").strip().lower() != OWN_MANUFACTURER
    ]
    ids = sorted(s["ID"] for s in theirs)
    if not theirs:
        return False, [], "only simcase's own series"
    if not set(ids) - _routed(study_id):
        return False, ids, "no new series besides simcase's own results"
    if not any(s.get("MainDicomTags", {}).get("Modality", "").upper() == "MR" for s in theirs):
        return False, ids, "no MR series"
    return True, ids, "new series"


def _forward(study_id: str, series_ids: list[str]) -> None:
    if MODE == "notify":
        study = _get(f"/studies/{study_id}")
        study_uid = study["MainDicomTags"]["StudyInstanceUID"]
        body = json.dumps({"orthanc_id": study_id, "series": series_ids}).encode()
        request = urllib.request.Request(
            NOTIFY_URL.format(study_uid=study_uid), data=body, method="POST"
        )
        request.add_header("Content-Type", "application/json")
        if TOKEN:
            request.add_header("Authorization", f"Bearer {TOKEN}")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    else:
        orthanc.RestApiPost(
            f"/modalities/{MODALITY}/store",
            json.dumps({"Resources": series_ids, "Synchronous": True}),
        )


def _route(study_id: str) -> None:
    route, series_ids, reason = _decide(study_id)
    if not route:
        orthanc.LogInfo(f"simcase: study {study_id} not routed: {reason}")
        return
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _forward(study_id, series_ids)
            break
        except Exception as exc:
            orthanc.LogWarning(f"simcase: routing study {study_id} failed ({attempt}): {exc}")
            if attempt == ATTEMPTS:
                return
            time.sleep(2.0**attempt)
    orthanc.RestApiPut(f"/studies/{study_id}/metadata/{ROUTED}", ",".join(series_ids))
    orthanc.LogWarning(f"simcase: study {study_id} routed ({MODE}, {len(series_ids)} series)")


def _worker() -> None:
    while True:
        study_id = _work.get()
        if study_id is None:
            return
        try:
            _route(study_id)
        except Exception as exc:
            orthanc.LogError(f"simcase: study {study_id}: {exc}")


_thread = threading.Thread(target=_worker, name="simcase-forward", daemon=True)


def on_change(change_type: Any, level: Any, resource_id: str) -> None:
    """Orthanc's change callback: queue stable studies, never work here."""
    if change_type == orthanc.ChangeType.STABLE_STUDY:
        _work.put(resource_id)
    elif change_type == orthanc.ChangeType.ORTHANC_STARTED:
        _thread.start()
    elif change_type == orthanc.ChangeType.ORTHANC_STOPPED:
        _work.put(None)
        if _thread.is_alive():
            _thread.join(10)


orthanc.RegisterOnChangeCallback(on_change)
