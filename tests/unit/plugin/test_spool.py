from __future__ import annotations

from pathlib import Path

from plugin.dicom.spool import Spool, safe_component


def test_layout_and_content(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    path = spool.write("1.2.3", "1.2.3.4", "1.2.3.4.5", b"DICM-bytes")
    assert path == tmp_path / "spool" / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm"
    assert path.read_bytes() == b"DICM-bytes"
    assert [p.name for p in path.parent.iterdir()] == ["1.2.3.4.5.dcm"]  # no temp file left


def test_rewrite_replaces(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write("1", "2", "3", b"old")
    path = spool.write("1", "2", "3", b"new")
    assert path.read_bytes() == b"new"


def test_hostile_uids_stay_inside_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    path = spool.write("../../etc", "a/b", "..", b"x")
    assert path.resolve().is_relative_to((tmp_path / "spool").resolve())
    assert safe_component("1.2.840.10008") == "1.2.840.10008"
    assert safe_component("1.2.") != "1.2."
    assert safe_component("1" * 65).startswith("x")


def test_new_instance_is_written_in_place_and_directories_synced_later(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.write("1", "2", "3", b"a")
    second = spool.write("1", "2", "4", b"b")
    assert sorted(p.name for p in first.parent.iterdir()) == ["3.dcm", "4.dcm"]
    assert spool._dirty == {first.parent}
    spool.sync_directories()
    assert spool._dirty == set()
    assert sorted(spool.instances()) == [first, second]


def test_scan_removes_interrupted_replacements(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    path = spool.write("1", "2", "3", b"a")
    leftover = path.with_name(".3.dcm.1.1.tmp")
    leftover.write_bytes(b"partial")
    assert list(spool.instances()) == [path]
    assert not leftover.exists()
    assert list(Spool(tmp_path / "missing").instances()) == []


def test_pieces_are_written_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    big = bytes(range(256)) * 4096  # more than one writev may take at once on some systems
    path = spool.write("1", "2", "3", [b"head", memoryview(big), b"", b"tail"])
    assert path.read_bytes() == b"head" + big + b"tail"
    again = spool.write("1", "2", "3", [b"new", memoryview(b"er")])
    assert again.read_bytes() == b"newer"
