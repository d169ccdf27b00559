"""320 malformed instances (attributes deleted or hostile, pixel data cut, bytes
truncated or overwritten) sent by C-STORE to ``simcase listen``, each in a study of its
own, and every study the listener accepted processed by a worker.

Counted: DIMSE statuses, crashes (the listener process gone, or 0xC211: its handler
raised), hangs (a C-STORE without an answer within 15 s), and the job errors of the
studies (none may be a traceback or an internal error; every job finishes).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom import _config as pynetdicom_config
from pynetdicom.sop_class import MRImageStorage, Verification  # type: ignore[attr-defined]

from tests.conftest import free_port
from tests.integration.plugin.fault_helpers import (
    register_stand_in_model,
    simcase_listen,
    stand_in_workers,
    wait_until,
    worker_settings,
)
from tests.integration.plugin.malformed_instances import malformed_variants

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # pydicom warns about the hostile values; a deployment logs it, so may the worker here
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

HANG_SECONDS = 15.0


def _scu() -> AE:
    ae = AE(ae_title="FUZZSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = HANG_SECONDS
    ae.add_requested_context(Verification)
    ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
    return ae


def _jobs(database_url: str) -> list[tuple[str, list[str]]]:
    with psycopg.connect(database_url) as conn:
        return [
            (str(r[0]), list(r[1]))
            for r in conn.execute(
                "SELECT j.status::text, coalesce((SELECT array_agg(x.error) FROM job_errors x"
                " WHERE x.job_id = j.id), '{}') FROM procrastinate_jobs j"
                " WHERE j.task_name LIKE '%process_study'"
            )
        ]


def test_malformed_instances_neither_crash_nor_hang_nor_leak_tracebacks(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variants = malformed_variants()
    assert len(variants) >= 200
    monkeypatch.setattr(pynetdicom_config, "STORE_SEND_CHUNKED_DATASET", True)  # as is
    register_stand_in_model(database_url)
    data_dir = tmp_path / "data"
    settings = worker_settings(database_url, data_dir)
    port = free_port()
    statuses: Counter[str] = Counter()
    slowest = 0.0
    with (
        stand_in_workers(settings, database_url),
        simcase_listen(database_url, data_dir, port, tmp_path / "listen.log") as listener,
    ):
        ae = _scu()
        assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
        for i, variant in enumerate(variants):
            path = tmp_path / "in" / f"{i}.dcm"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(variant.data)
            if not assoc.is_established:
                statuses["association lost (new one opened)"] += 1
                assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
            started = time.monotonic()
            try:
                status = assoc.send_c_store(path)
            except Exception as exc:  # the sender's own refusal to send the file
                statuses[f"not sent ({type(exc).__name__})"] += 1
                continue
            slowest = max(slowest, time.monotonic() - started)
            code = status.get("Status") if status else None
            statuses["no answer" if code is None else f"{int(code):#06x}"] += 1
            assert listener.poll() is None, f"listener died on {variant.name}"
        assert assoc.send_c_echo().Status == 0x0000  # alive and answering
        assoc.release()
        stored = statuses["0x0000"]
        wait_until(lambda: len(_jobs(database_url)) >= 1, 30, "the first job")
        wait_until(
            lambda: all(s in ("succeeded", "failed") for s, _ in _jobs(database_url)),
            300,
            "every job to finish",
        )
        time.sleep(2)  # studies completed late are queued within the debounce
        wait_until(
            lambda: all(s in ("succeeded", "failed") for s, _ in _jobs(database_url)),
            300,
            "every job to finish",
        )
        assert listener.poll() is None
    jobs = _jobs(database_url)
    errors = [e for _, errs in jobs for e in errs]
    outcome = Counter(s for s, _ in jobs)
    print(
        f"\n{len(variants)} variants: C-STORE {dict(statuses)}; slowest answer"
        f" {slowest:.2f} s; jobs {dict(outcome)}; errors {Counter(e[:60] for e in errors)}"
    )
    assert statuses["0xc211"] == 0  # the handler never raised
    assert statuses["no answer"] == 0 and slowest < HANG_SECONDS
    assert set(statuses) <= {"0x0000", "0xc210", "0xa700"} | {
        k for k in statuses if k.startswith("not sent")
    }, statuses
    assert stored > 0 and jobs
    assert not [e for e in errors if "Traceback" in e or "\n" in e or "internal error" in e]
