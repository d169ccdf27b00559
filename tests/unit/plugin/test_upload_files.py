"""Uploads that are archives: unpacked under a decompressed-size limit counted while
streaming; member names never become paths."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from plugin.api import upload_files
from plugin.api.upload_files import save_uploads
from plugin.errors import UploadTooLargeError

MiB = 1024 * 1024
#: 50 MiB of zeros: about 50 kB compressed.
ZEROS = 50 * MiB


def gzip_bomb() -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        block = b"\0" * MiB
        for _ in range(ZEROS // MiB):
            gz.write(block)
    return out.getvalue()


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("study/zeros.dcm", "w") as member:
            block = b"\0" * MiB
            for _ in range(ZEROS // MiB):
                member.write(block)
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make"),
    [("bomb.zip", zip_bomb), ("case-t1n.nii.gz", gzip_bomb), ("x.dcm.gz", gzip_bomb)],
)
def test_a_bomb_is_stopped_at_the_limit_with_memory_bounded(
    tmp_path: Path, name: str, make: object
) -> None:
    data = make()  # type: ignore[operator]
    assert len(data) < ZEROS // 100
    tracemalloc.start()
    try:
        with pytest.raises(UploadTooLargeError, match="decompresses to more than the limit of"):
            save_uploads([(name, io.BytesIO(data))], tmp_path, 8 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, peak  # a chunk at a time, never the 50 MB
    written = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert written <= 8 * MiB + len(data)


def test_the_same_content_under_the_limit_is_unpacked(tmp_path: Path) -> None:
    folder = save_uploads([("x.dcm.gz", io.BytesIO(gzip_bomb()))], tmp_path, 64 * MiB)
    [unpacked] = folder.iterdir()
    assert unpacked.name.endswith("_x.dcm") and unpacked.stat().st_size == ZEROS


def test_member_names_never_become_paths(tmp_path: Path) -> None:
    data = zip_of({"../../evil.dcm": b"a", "/etc/passwd": b"b", "a/b/c.dcm": b"c", "..": b"d"})
    folder = save_uploads([("../up.zip", io.BytesIO(data))], tmp_path / "up", MiB)
    assert folder == tmp_path / "up" / "files"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["00000_evil.dcm", "00001_passwd", "00002_c.dcm", "00003_member3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up"]


def test_a_zipped_nifti_case_becomes_its_case_folder(tmp_path: Path) -> None:
    members = {f"BraTS-X-001/BraTS-X-001-{s}.nii.gz": gzip.compress(b"n") for s in ("t1n", "t2w")}
    folder = save_uploads([("case.zip", io.BytesIO(zip_of(members)))], tmp_path, MiB)
    assert folder == tmp_path / "BraTS-X-001"
    assert sorted(p.name for p in folder.iterdir()) == [
        "BraTS-X-001-t1n.nii.gz",
        "BraTS-X-001-t2w.nii.gz",
    ]


def test_too_many_members_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload_files, "MAX_ARCHIVE_MEMBERS", 10)
    data = zip_of({f"{i}.dcm": b"" for i in range(11)})
    with pytest.raises(UploadTooLargeError, match="more than 10 files"):
        save_uploads([("many.zip", io.BytesIO(data))], tmp_path, MiB)


@pytest.mark.parametrize(("name", "data"), [("x.zip", b"PK\3\4garbage"), ("x.gz", b"\x1f\x8bxx")])
def test_broken_archives_are_a_value_error(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(ValueError, match="cannot unpack the upload"):
        save_uploads([(name, io.BytesIO(data))], tmp_path, MiB)
