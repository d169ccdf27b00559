"""No file name, folder or case id that came from outside in a log line (issue 15).

A file name or an archive's case id may carry a patient's name. The logs name a file by
its position and anything else by a short hash (``dicom_conversion.log_refs``); an AST
scan of every log call in the four packages keeps it so.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from dicom_conversion import read_dicom_folder
from dicom_conversion.log_refs import name_ref, position
from indexer.bulk import ImportSummary, index_sources
from indexer.case_discovery import CaseSource
from indexer.pipeline import ModelSet
from indexer.store import MemoryStore
from tests.unit.plugin.test_processing_steps import FakeEmbedder, FakeSegmenter

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "ZZPHI_SENTINEL"
#: Names in a log call's arguments that hold something from outside.
OUTSIDE = {"path", "paths", "folder", "filename", "file_name", "case_id", "uri", "name"}
#: Log calls that name something the operator set or simcase made, not one from outside.
OURS = {
    # synthetic cases, named by the generator
    ("models/synth/corpus.py", "case_id"),
    # the training work folder of ``simcase train``
    ("models/training/checkpoints.py", "path"),
    # spool files are named by the listener after the instance's UIDs
    ("plugin/dicom/recovery.py", "path"),
}
LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}


def _logged(records: list[logging.LogRecord]) -> str:
    """Every record's message and ``extra=`` values, as the handler would write them."""
    return "\n".join(f"{r.getMessage()} {vars(r)}" for r in records)


def test_a_folders_unreadable_file_is_logged_by_position_not_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / f"{SENTINEL}_labels.csv").write_text("case_id,diagnosis\n")
    (tmp_path / f"{SENTINEL}.txt").write_bytes(b"\x00" * 200)
    with caplog.at_level(logging.DEBUG):
        contents = read_dicom_folder(tmp_path)
    assert len(contents.skipped) == 2
    assert not contents.datasets
    text = _logged(caplog.records)
    assert "file 1 of 2" in text
    assert "file 2 of 2" in text
    assert SENTINEL not in text
    assert str(tmp_path) not in text


def test_a_skipped_case_is_logged_by_hash_not_by_its_id_or_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / SENTINEL / "scan"
    store = MemoryStore()
    models = ModelSet(embedder=FakeEmbedder(), segmenter=FakeSegmenter(True))
    with caplog.at_level(logging.DEBUG):
        summary = index_sources(
            [CaseSource(f"{SENTINEL}-1", str(missing), "glioma")],
            store,
            models,
            summary=ImportSummary(),
        )
    assert summary.indexed == 0
    assert summary.failed and SENTINEL in summary.failed[0][1]  # the operator's summary
    text = _logged(caplog.records)
    assert name_ref(f"{SENTINEL}-1") in text
    assert "IndexerError" in text
    assert SENTINEL not in text


def test_name_refs_are_short_stable_and_tell_names_apart() -> None:
    assert name_ref("BraTS-GLI-00001") == name_ref("BraTS-GLI-00001")
    assert name_ref("BraTS-GLI-00001") != name_ref("BraTS-GLI-00002")
    assert len(name_ref("x")) == len("ref:") + 10
    assert "MUSTERMANN" not in name_ref("MUSTERMANN^MAX")
    assert position(2, 12) == "file 3 of 12"


def _log_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in LEVELS
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id in {"log", "logger"}
    ]


def _outside_names(call: ast.Call) -> set[str]:
    """Names from :data:`OUTSIDE` used in the call's arguments, except inside a call of
    ``name_ref`` or ``position``."""
    found: set[str] = set()
    stack: list[ast.AST] = [*call.args, *(k.value for k in call.keywords)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"name_ref", "position"}:
            continue
        if isinstance(node, ast.Name) and node.id in OUTSIDE:
            found.add(node.id)
        if isinstance(node, ast.Attribute) and node.attr in OUTSIDE - {"name"}:
            found.add(node.attr)
        stack.extend(ast.iter_child_nodes(node))
    return found


def test_no_log_call_formats_a_path_file_name_or_case_id() -> None:
    offenders = []
    calls = 0
    for package in ("dicom_conversion", "models", "indexer", "plugin"):
        for source in sorted((ROOT / package).rglob("*.py")):
            relative = source.relative_to(ROOT).as_posix()
            for call in _log_calls(ast.parse(source.read_text())):
                calls += 1
                names = {n for n in _outside_names(call) if (relative, n) not in OURS}
                offenders += [f"{relative}:{call.lineno} {sorted(names)}"] if names else []
    assert calls > 80  # the scan sees the log calls
    assert offenders == []


def test_the_scan_catches_a_path_in_a_log_call() -> None:
    bad = ast.parse('log.warning("x", extra={"path": str(path)})\nlog.info("%s", case_id)')
    good = ast.parse('log.warning("x", extra={"case": name_ref(case_id)})')
    assert [_outside_names(c) for c in _log_calls(bad)] == [{"path"}, {"case_id"}]
    assert [_outside_names(c) for c in _log_calls(good)] == [set()]
