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
