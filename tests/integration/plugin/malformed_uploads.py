"""Malformed uploads (``POST /api/v1/search``) and malformed ``simcase index`` folders, as
a clumsy or hostile user would hand them over.

:func:`malformed_uploads` returns the upload bodies (each a list of ``(file name,
bytes)``): garbage bytes under every accepted name, truncated and corrupted zips, zips
with path-traversal, absolute and symlink members, zip and gzip bombs, ``.gz`` that is
not gzip, empty uploads, NIfTI files with broken headers (sizes, dimensions, data types,
offsets, scaling, affines) or NaN/inf data, and DICOM sets with missing series, mixed
studies, duplicated instances and malformed instances (from
:mod:`tests.integration.plugin.malformed_instances`).

:func:`write_malformed_archive` writes one BraTS-layout folder whose ``cases.csv`` lists
many broken cases (missing folders and sequences, unknown diagnoses, hostile case ids,
NIfTI variants, empty files, symlinks leaving the folder, non-UTF-8 file names);
:func:`write_malformed_folders` writes folders whose ``cases.csv`` itself is broken.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from tests.integration.plugin.malformed_instances import malformed_variants
from tests.unit.plugin.samples import mr_series

__all__ = [
    "Upload",
    "malformed_uploads",
    "nifti_variants",
    "write_malformed_archive",
    "write_malformed_folders",
]

SHAPE = (20, 20, 12)
Files = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Upload:
    """One upload: its name (for the counts) and its files."""

    name: str
    files: Files


def _nifti(data: np.ndarray | None = None, affine: np.ndarray | None = None) -> bytes:
    rng = np.random.default_rng(0)
    array = data if data is not None else rng.integers(0, 1000, SHAPE).astype(np.int16)
    image = nib.Nifti1Image(array, np.diag([1.0, 1.0, 1.0, 1.0]) if affine is None else affine)
    raw: bytes = image.to_bytes()
    return raw


def _patch(raw: bytes, offset: int, fmt: str, *values: float) -> bytes:
    out = bytearray(raw)
    struct.pack_into("<" + fmt, out, offset, *values)
    return bytes(out)


def nifti_variants() -> dict[str, bytes]:
    """Broken single NIfTI-1 files (uncompressed bytes), by name."""
    good = _nifti()
    nan = np.full(SHAPE, np.nan, dtype=np.float32)
    variants = {
        "sizeof_hdr_0": _patch(good, 0, "i", 0),
        "sizeof_hdr_big_endian_junk": _patch(good, 0, "i", 0x12345678),
        "dim0_0": _patch(good, 40, "h", 0),
        "dim0_9": _patch(good, 40, "h", 9),
        "dim_zero_axis": _patch(good, 42, "hhh", 0, 20, 12),
        "dim_negative": _patch(good, 42, "hhh", -20, 20, 12),
        "dim_huge": _patch(good, 42, "hhh", 32767, 32767, 32767),
        "dim_2d": _patch(good, 40, "hhhh", 2, 20, 20, 1),
        "dim_4d": _patch(good, 40, "hhhhh", 4, 20, 20, 3, 4),
        "datatype_unknown": _patch(good, 70, "hh", 999, 16),
        "datatype_rgb": _patch(good, 70, "hh", 128, 24),
        "datatype_complex": _patch(good, 70, "hh", 32, 64),
        "vox_offset_past_end": _patch(good, 108, "f", 1e9),
        "vox_offset_nan": _patch(good, 108, "f", float("nan")),
        "scl_slope_nan": _patch(good, 112, "ff", float("nan"), 0.0),
        "scl_slope_inf": _patch(good, 112, "ff", float("inf"), 0.0),
        "pixdim_zero": _patch(good, 80, "fff", 0.0, 0.0, 0.0),
        "pixdim_nan": _patch(_patch(good, 252, "hh", 0, 0), 80, "fff", *[float("nan")] * 3),
        "srow_nan": _patch(good, 280, "ffff", *[float("nan")] * 4),
        "srow_zero": _patch(_patch(good, 252, "hh", 0, 1), 280, "f" * 12, *[0.0] * 12),
        "quatern_huge": _patch(_patch(good, 252, "hh", 1, 0), 256, "fff", 1e30, 1e30, 1e30),
        "magic_bad": good[:344] + b"xx\0\0" + good[348:],
        "truncated_header": good[:200],
        "truncated_data": good[: len(good) // 2],
        "header_only": good[:352],
        "data_nan": _nifti(nan),
        "data_inf": _nifti(np.full(SHAPE, np.inf, dtype=np.float32)),
        "data_zero": _nifti(np.zeros(SHAPE, dtype=np.int16)),
        "qform_nan_sform_off": _patch(
            _patch(good, 252, "hh", 1, 0), 268, "fff", *[float("nan")] * 3
        ),
        "shape_tiny": _nifti(np.ones((1, 1, 1), dtype=np.int16)),
        "shape_flat": _nifti(np.ones((20, 20, 1), dtype=np.int16)),
    }
    return variants


def _gz(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def _zip(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo("link.dcm")
            info.external_attr = (0o120777 << 16) | 0x10  # a symlink member
            archive.writestr(info, symlink)
    return buffer.getvalue()


def _dicom(n: int = 3, **options: object) -> list[bytes]:
    out = []
    for ds in mr_series(n, **options):  # type: ignore[arg-type]
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def _garbage(rng: random.Random) -> list[Upload]:
    names = ("x.dcm", "x.bin", "study.zip", "c-t1n.nii.gz", "c-t1n.nii", "x.dcm.gz", "noext", "")
    out = []
    for size in (1, 131, 4096, 70000):
        data = rng.randbytes(size)
        out += [Upload(f"garbage-{size}-{name or 'unnamed'}", [(name, data)]) for name in names]
    return out


def _zips(rng: random.Random) -> list[Upload]:
    series = _dicom()
    good = _zip({f"s/{i}.dcm": d for i, d in enumerate(series)})
    out = [Upload(f"zip-truncated-{cut}", [("s.zip", good[:cut])]) for cut in (4, 30, 100, 500)]
    out.append(Upload("zip-truncated-end", [("s.zip", good[: len(good) - 10])]))
    for i in range(8):
        broken = bytearray(good)
        for _ in range(6):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        out.append(Upload(f"zip-corrupt-{i}", [("s.zip", bytes(broken))]))
    for name in ("../../evil.dcm", "/tmp/evil.dcm", "..\\..\\evil.dcm", "a/../../../b.dcm",
                 "..", "./", "x/\0y.dcm", "C:/evil.dcm"):  # fmt: skip
        out.append(Upload(f"zip-member-{name!r}", [("s.zip", _zip({name: series[0]}))]))
    zero = np.zeros(1, dtype=np.uint8).tobytes() * (40 * 1024 * 1024)
    out += [
        Upload("zip-bomb", [("s.zip", _zip({"a.dcm": zero}))]),
        Upload("zip-symlink", [("s.zip", _zip({"0.dcm": series[0]}, symlink="/etc/passwd"))]),
        Upload("zip-in-zip", [("s.zip", _zip({"inner.zip": good}))]),
        Upload("zip-empty", [("s.zip", _zip({}))]),
        Upload("zip-duplicate-names", [("s.zip", _zip({"a.dcm": series[0]} | {"b/a.dcm": b"x"}))]),
        Upload("zip-many-members", [("s.zip", _zip({f"{i}": b"" for i in range(20_001)}))]),
    ]
    return out


def _gzips() -> list[Upload]:
    series = _dicom()
    gz = _gz(series[0])
    return [
        Upload("gz-not-gzip-dcm", [("x.dcm.gz", series[0])]),
        Upload("gz-not-gzip-nii", [("c-t1n.nii.gz", _nifti())]),
        Upload("gz-truncated", [("x.dcm.gz", gz[: len(gz) // 2])]),
        Upload("gz-bad-crc", [("x.dcm.gz", gz[:-8] + b"\0" * 8)]),
        Upload("gz-bomb-dcm", [("x.dcm.gz", _gz(bytes(40 * 1024 * 1024)))]),
        Upload("gz-bomb-nii", [("c-t1n.nii.gz", _gz(bytes(40 * 1024 * 1024)))]),
        Upload("gz-of-garbage-nii", [("c-t1n.nii.gz", _gz(b"garbage" * 100))]),
        Upload("gz-empty", [("x.gz", b"")]),
        Upload("empty-upload-file", [("x.dcm", b"")]),
        Upload("empty-nii", [("c-t1n.nii.gz", b"")]),
        Upload("empty-names", [("", b""), ("", b"")]),
    ]


def _niftis() -> list[Upload]:
    out = []
    for name, raw in nifti_variants().items():
        out.append(Upload(f"nifti-{name}.nii.gz", [("q-t1n.nii.gz", _gz(raw))]))
        out.append(Upload(f"nifti-{name}.nii", [("q-t1c.nii", raw)]))
    good = _nifti()
    other = _nifti(np.ones((20, 20, 10), dtype=np.int16))
    moved = _nifti(affine=np.diag([2.0, 1.0, 1.0, 1.0]))
    seg_300 = _nifti(np.full(SHAPE, 300, dtype=np.int16))
    seg_nan = _nifti(np.full(SHAPE, np.nan, dtype=np.float32))
    out += [
        Upload("nifti-shapes-differ", [("q-t1n.nii", good), ("q-t1c.nii", other)]),
        Upload("nifti-affines-differ", [("q-t1n.nii", good), ("q-t2w.nii", moved)]),
        Upload("nifti-only-seg", [("q-seg.nii", good)]),
        Upload("nifti-seg-300", [("q-t1n.nii", good), ("q-seg.nii", seg_300)]),
        Upload("nifti-seg-nan", [("q-t1n.nii", good), ("q-seg.nii", seg_nan)]),
        Upload("nifti-seg-wrong-shape", [("q-t1n.nii", good), ("q-seg.nii", other)]),
        Upload("nifti-unnamed-sequence", [("q.nii", good)]),
        Upload("nifti-two-cases", [("a-t1n.nii", good), ("b-t1c.nii", good)]),
        Upload("nifti-and-dicom", [("q-t1n.nii", good), *_named(_dicom())]),
    ]
    return out


def _named(instances: list[bytes], prefix: str = "i") -> Files:
    return [(f"{prefix}{i}.dcm", data) for i, data in enumerate(instances)]


def _dicom_sets() -> list[Upload]:
    one = _dicom(1)
    study = "1.2.826.0.1.3680043.10.511.7"
    out = [
        Upload("dicom-one-slice", _named(one)),
        Upload("dicom-mixed-studies", _named(_dicom(2) + _dicom(2))),
        Upload("dicom-duplicate-instance", _named(one * 3)),
        Upload("dicom-two-series-one-study", _named(
            _dicom(3, study_uid=study) + _dicom(3, study_uid=study, series_number=2)
        )),
        Upload("dicom-plus-garbage", [*_named(_dicom(3)), ("junk.dcm", b"\x00" * 300)]),
        Upload("dicom-tiny-slices", _named(_dicom(3, rows=1, columns=1))),
        Upload("dicom-no-t1-description", _named(_dicom(3, description="LOCALIZER"))),
    ]  # fmt: skip
    for variant in malformed_variants()[::8]:
        out.append(Upload(f"dicom-{variant.name}", _named([variant.data, *_dicom(2)])))
    return out


def malformed_uploads(seed: int = 15) -> list[Upload]:
    """At least 150 malformed uploads, the same ones for the same seed."""
    rng = random.Random(seed)
    return [*_garbage(rng), *_zips(rng), *_gzips(), *_niftis(), *_dicom_sets()]


#: Rows of ``cases.csv`` whose case id is hostile (no folder of that name is made).
HOSTILE_IDS = ("../outside", "/etc", "..", ".", "a/b", "x" * 300, "c\x00d", " ", "~root")


def _case(root: Path, case_id: str, files: dict[str, bytes]) -> None:
    folder = root / case_id
    folder.mkdir()
    for suffix, data in files.items():
        (folder / f"{case_id}-{suffix}").write_bytes(data)


def write_malformed_archive(root: Path, outside: Path) -> list[str]:
    """A BraTS-layout folder at ``root`` whose ``cases.csv`` lists only broken cases;
    ``outside`` (beside it) is where symlinks point. Returns the case ids listed."""
    root.mkdir()
    outside.mkdir(exist_ok=True)
    (outside / "secret-t1n.nii.gz").write_bytes(_gz(_nifti()))
    rows: list[tuple[str, str]] = []
    builders: dict[str, Callable[[str], None]] = {}
    for name, raw in nifti_variants().items():
        builders[f"nii-{name}"] = lambda c, raw=raw: _case(root, c, {"t1n.nii.gz": _gz(raw)})
    good = _gz(_nifti())
    builders |= {
        "empty-files": lambda c: _case(root, c, dict.fromkeys(("t1n.nii.gz", "t2w.nii"), b"")),
        "no-sequences": lambda c: _case(root, c, {"notes.txt": b"hello"}),
        "only-seg": lambda c: _case(root, c, {"seg.nii.gz": good}),
        "gz-not-gzip": lambda c: _case(root, c, {"t1n.nii.gz": _nifti()}),
        "shapes-differ": lambda c: _case(
            root,
            c,
            {"t1n.nii.gz": good, "t1c.nii.gz": _gz(_nifti(np.ones((5, 5, 5), dtype=np.int16)))},
        ),
        "seg-labels-300": lambda c: _case(
            root,
            c,
            {"t1n.nii.gz": good, "seg.nii.gz": _gz(_nifti(np.full(SHAPE, 300, dtype=np.int16)))},
        ),
        "symlink-file-out": lambda c: _symlinked(root, c, outside / "secret-t1n.nii.gz"),
        "symlink-folder-out": lambda c: (root / c).symlink_to(outside, target_is_directory=True),
        "symlink-dangling": lambda c: _symlinked(root, c, outside / "gone.nii.gz"),
        "non-utf8-name": lambda c: _non_utf8(root, c, good),
        "folder-is-file": lambda c: (root / c).write_bytes(good),
    }
    for i, (kind, build) in enumerate(builders.items()):
        case_id = f"case{i:03d}-{kind}"
        build(case_id)
        rows.append((case_id, "glioma"))
    _case(root, "unknown-diagnosis", {"t1n.nii.gz": _gz(_nifti(np.zeros(SHAPE, dtype=np.int16)))})
    rows += [("unknown-diagnosis", "not-a-diagnosis"), ("no-folder", "glioma")]
    rows += [(case_id, "glioma") for case_id in HOSTILE_IDS]
    rows += [("", "glioma"), ("blank-diagnosis", ""), ("case000-nii-sizeof_hdr_0", "glioma")]
    lines = ["case_id,diagnosis,patient_id,age,sex,extra"]
    lines += [f'"{c}",{d},p{i},{i if i % 3 else "old"},{"FMOX"[i % 4]},e' for i, (c, d) in
              enumerate(rows)]  # fmt: skip
    lines += ["short-row", "too,many,cells,in,this,row,1,2,3"]
    (root / "cases.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [c for c, _ in rows] + ["short-row", "too"]


def _symlinked(root: Path, case_id: str, target: Path) -> None:
    (root / case_id).mkdir()
    (root / case_id / f"{case_id}-t1n.nii.gz").symlink_to(target)


def _non_utf8(root: Path, case_id: str, data: bytes) -> None:
    (root / case_id).mkdir()
    name = os.fsencode(root / case_id) + b"/" + case_id.encode() + b"-t1n\xff\xfe.nii.gz"
    with open(name, "wb") as handle:
        handle.write(data)


#: ``cases.csv`` contents that are broken as a whole, by name.
BROKEN_CSV: dict[str, bytes] = {
    "empty": b"",
    "header-only": b"case_id,diagnosis\n",
    "no-case-id-column": b"id,diagnosis\nc1,glioma\n",
    "binary": bytes(range(256)) * 4,
    "latin-1": "case_id,diagnosis\nc\xe9,glioma\n".encode("latin-1"),
    "nul-bytes": b"case_id,diagnosis\nc1\0,glioma\n",
    "utf-16": "case_id,diagnosis\nc1,glioma\n".encode("utf-16"),
    "huge-field": b"case_id,diagnosis\n" + b"c" * 200_000 + b",glioma\n",
    "unterminated-quote": b'case_id,diagnosis\n"c1,glioma\n',
    "semicolons": b"case_id;diagnosis\nc1;glioma\n",
    "bom-crlf": b"\xef\xbb\xbfcase_id,diagnosis\r\nc1,glioma\r\n",
    "many-rows-no-folders": b"case_id,diagnosis\n"
    + b"".join(f"c{i},glioma\n".encode() for i in range(5000)),
}


def write_malformed_folders(parent: Path, outside: Path) -> dict[str, Path]:
    """Folders whose ``cases.csv`` is broken as a whole (or not a file), by name."""
    folders: dict[str, Path] = {}
    for name, content in BROKEN_CSV.items():
        folder = parent / f"csv-{name}"
        folder.mkdir()
        (folder / "cases.csv").write_bytes(content)
        folders[name] = folder
    (outside / "passwd.csv").write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    special = {
        "csv-is-folder": lambda f: (f / "cases.csv").mkdir(),
        "csv-symlink-out": lambda f: (f / "cases.csv").symlink_to(outside / "passwd.csv"),
        "csv-dangling-symlink": lambda f: (f / "cases.csv").symlink_to(outside / "gone.csv"),
        "no-csv": lambda f: (f / "readme.txt").write_text("hello"),
    }
    for name, build in special.items():
        folder = parent / name
        folder.mkdir()
        build(folder)
        folders[name] = folder
    return folders
