"""Following one study floor by floor, from the C-STORE handler to the delivered results.

simcase has four floors, top to bottom: ``plugin`` (the PACS-facing service), ``indexer``
(store, jobs, search), ``models`` and ``dicom_conversion``; a floor calls only the floors
below it (``tests/unit/test_layering.py``). A reader following a study should leave the
floor a step is written on at most once per thing the step hands down, never bouncing
between floors to finish one step (issue 17).

This test runs the real path in one process: ``plugin.runtime.running_listener`` (the
production listener with its production callback) on the embedded PostgreSQL, one
generated study sent by pynetdicom, then ``indexer.worker.run_queued_jobs`` with the
production task list and the shipped models, the results saved into the data folder.
Every Python call on the four floors is traced (``sys.setprofile`` and
``threading.setprofile``), and each call that leaves the floor of the step it runs in is
counted as a departure of that step, with the function it enters. The table is printed
(``pytest -s``) and the floors' rules asserted: each step leaves its floor only through
the entry points named here, once per entry point per call, and never upward.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pydicom
import pytest
from pynetdicom import AE, StoragePresentationContexts

from indexer.bulk import ImportSummary, discover, index_sources
from indexer.pipeline import load_models
from indexer.store import open_store
from indexer.worker import run_queued_jobs
from models.synth import write_corpus
from plugin.jobs import TASKS, WorkerResources
from plugin.runtime import running_listener
from plugin.settings import DicomSettings, Settings
from tests.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOORS = ("plugin", "indexer", "models", "dicom_conversion")  # top to bottom

#: The steps a reader follows, by the qualified name of the function that is the step.
STEPS = {
    "plugin.dicom.store_handler:StoreHandler.__call__": "receive (each C-STORE)",
    "plugin.dicom.journal:PostgresJournal.record_many": "journal (a batch of rows)",
    "plugin.dicom.listener:DicomListener._study_complete": "complete (debounce over)",
    "plugin.processing.study:process_study": "process (the job's wiring)",
    "plugin.processing.steps:answer_study": "the four steps in order",
    "plugin.processing.load:load": "load",
    "plugin.processing.answer:answer": "answer",
    "plugin.processing.steps:deliver": "deliver",
    "plugin.processing.steps:deliver_outline": "deliver the outline (after the report)",
    "plugin.processing.steps:record": "record",
}


#: Where each step leaves its floor (data classes and properties aside): the test's record
#: of the path; a change that adds a way down must change this on purpose.
EXPECTED_ENTRIES: dict[str, set[str]] = {
    # the handler reads the data set's raw elements, checks and spools them on its own
    # floor; the row follows in a batch
    "plugin.dicom.store_handler:StoreHandler.__call__": {
        "dicom_conversion.fast_reading:read_dataset_bytes"
    },
    "plugin.dicom.journal:PostgresJournal.record_many": {"indexer.intake:record_instance"},
    "plugin.dicom.listener:DicomListener._study_complete": {
        "indexer.intake:mark_study_complete",
        "indexer.jobs:defer_once",
    },
    "plugin.processing.study:process_study": {
        "indexer.database:connect",
        "indexer.pipeline:models_for_search",
        "indexer.results_log:PostgresResultsLog.__init__",
    },
    "plugin.processing.steps:answer_study": {"indexer.results_log:PostgresResultsLog.previous"},
    "plugin.processing.load:load": {
        "indexer.intake:study_files",
        "dicom_conversion.files:read_dicom_file",
    },
    "plugin.processing.answer:answer": {
        "dicom_conversion.study_loading:load_study",  # the volumes
        "indexer.search_service:find_similar",  # segment, embed, search (as API and CLI)
        "indexer.thumbnails:tumour_slice_image",  # the montage's query picture
        "indexer.store._pg:PgVectorStore.thumbnails",  # and its hits' pictures
        "dicom_conversion.seg:label_counts",  # can the outline be written? (lat10)
        "dicom_conversion.seg:check_source_frames",  # its grid on the series' frames
    },
    "plugin.processing.steps:deliver": set(),
    # built after the report is sent (lat10)
    "plugin.processing.steps:deliver_outline": {
        "dicom_conversion.seg:write_seg",  # the outline's SEG
        "dicom_conversion.seg:label_counts",  # its compartments' volumes (TID 1500)
    },
    "plugin.processing.steps:record": {"indexer.results_log:PostgresResultsLog.record"},
}

#: The only calls from a floor to the one above: functions the upper floor handed down.
CALLBACKS_UP = {
    "indexer.jobs:tracked.<locals>.wrapper -> plugin.jobs:process_study_task",  # the task
    "indexer.pipeline:embed_study -> plugin.processing.steps:_Laps.lap",  # stage timings
    "indexer.search_service:find_similar -> plugin.processing.steps:_Laps.lap",
}


#: Reached from any floor through the ``logging`` module: the handlers and formatters the
#: process installed (``simcase``'s CLI, or an earlier test in the same process).
LOG_HANDLERS = ("plugin.logging_setup",)


@dataclass
class StepCalls:
    """What the calls of one step did: how many, and where each left the step's floor."""

    calls: int = 0
    #: the departures of each call, in order: the entered functions' names
    departures: list[list[str]] = field(default_factory=list)


class FloorTrace:
    """A profiler hook keeping, per thread, the stack of calls on simcase's floors."""

    def __init__(self) -> None:
        self.steps: dict[str, StepCalls] = defaultdict(StepCalls)
        self.upward: list[str] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def _stack(self) -> list[tuple[FrameType, str, str, int | None]]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack  # type: ignore[no-any-return]

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event not in ("call", "return"):
            return
        module = str(frame.f_globals.get("__name__", ""))
        floor = module.split(".", 1)[0]
        if floor not in FLOORS:
            return
        stack = self._stack()
        if event == "return":
            if stack and stack[-1][0] is frame:
                stack.pop()
            return
        name = f"{module}:{frame.f_code.co_qualname}"
        step_index = next(
            (i for i in range(len(stack) - 1, -1, -1) if stack[i][3] is not None), None
        )
        with self._lock:
            upward = stack and FLOORS.index(floor) < FLOORS.index(stack[-1][2])
            if upward and module not in LOG_HANDLERS:
                self.upward.append(f"{stack[-1][1]} -> {name}")
            if step_index is not None:
                _, step_name, step_floor, record = stack[step_index]
                if stack[-1][2] == step_floor and floor != step_floor and record is not None:
                    self.steps[step_name].departures[record].append(name)
            record_index: int | None = None
            if name in STEPS:
                calls = self.steps[name]
                calls.calls += 1
                calls.departures.append([])
                record_index = len(calls.departures) - 1
        stack.append((frame, name, floor, record_index))


@contextmanager
def traced(trace: FloorTrace) -> Iterator[None]:
    threading.setprofile(trace)
    sys.setprofile(trace)
    try:
        yield
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def send_study(port: int, folder: Path) -> int:
    ae = AE(ae_title="TESTSCU")
    ae.requested_contexts = StoragePresentationContexts
    assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
    assert assoc.is_established
    sent = 0
    try:
        for path in sorted(folder.rglob("*.dcm")):
            ds = pydicom.dcmread(path)
            if ds.Modality != "MR":
                continue  # the corpus also writes a truth SEG a scanner would not send
            status = assoc.send_c_store(ds)
            assert status.Status == 0x0000
            sent += 1
    finally:
        assoc.release()
    return sent


def is_data_access(name: str) -> bool:
    """A dataclass's generated method or a property: reading or making data, not handing
    work down."""
    module_name, qualname = name.split(":", 1)
    if "__create_fn__" in qualname:
        return True
    owner: Any = sys.modules.get(module_name)
    *path, attribute = qualname.split(".")
    for part in path:
        owner = getattr(owner, part, None)
    return isinstance(owner, type) and isinstance(
        inspect.getattr_static(owner, attribute, None), property
    )


def entries(departures: list[list[str]]) -> set[str]:
    """The lower-floor functions a step's calls entered, data access left out."""
    return {name for call in departures for name in call if not is_data_access(name)}


def test_one_study_followed_floor_by_floor(database_url: str, tmp_path: Path) -> None:
    archive, query = tmp_path / "archive", tmp_path / "query"
    write_corpus(archive, 3, 4242, resolution_mm=2.0)
    write_corpus(tmp_path / "query-nifti", 1, 777, resolution_mm=2.0, dicom_dir=query)
    models = load_models(None)
    store = open_store(database_url)
    summary = ImportSummary()
    index_sources(discover(archive, summary), store, models, summary=summary)
    store.close()
    assert summary.indexed == 3

    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        dicom=DicomSettings(
            ae_title="SIMCASE",
            host="127.0.0.1",
            port=free_port(),
            allowed_aes=["TESTSCU"],
            debounce_seconds=0.3,
        ),
    )
    trace = FloorTrace()
    with traced(trace):
        with running_listener(settings, database_url) as listener:
            sent = send_study(listener.port, query)
            deadline = time.monotonic() + 30
            while not trace.steps["plugin.dicom.listener:DicomListener._study_complete"].calls:
                assert time.monotonic() < deadline, "the study was never completed"
                time.sleep(0.1)
        resources = WorkerResources(conninfo=database_url, settings=settings)
        resources._models = models
        run_queued_jobs(resources, TASKS)

    print(f"\n{'step':<28} {'calls':>5} {'max departures':>15}  entered on a lower floor")
    for name, label in STEPS.items():
        calls = trace.steps[name]
        most = max((len(d) for d in calls.departures), default=0)
        entered = ", ".join(sorted(entries(calls.departures)))
        print(f"{label:<28} {calls.calls:>5} {most:>15}  {entered}")

    print("calls up a floor (callbacks handed down):", sorted(set(trace.upward)))
    assert set(trace.upward) == CALLBACKS_UP
    assert trace.steps["plugin.dicom.store_handler:StoreHandler.__call__"].calls == sent
    for name in STEPS:
        assert trace.steps[name].calls >= 1, f"{STEPS[name]} never ran"
    found = {name: entries(trace.steps[name].departures) for name in STEPS}
    assert found == EXPECTED_ENTRIES
    results = list((tmp_path / "data" / "results").rglob("*.dcm"))
    assert results, "no results were delivered"
