"""NIfTI files that are broken in ways nibabel reads without complaint: every one is a
:class:`NiftiError` (never a ValueError or RuntimeError further down the pipeline).

Found by tests/integration/plugin/test_malformed_uploads_at_scale.py: before, an upload
of such a file answered 500 (a torch RuntimeError for an empty axis, a numpy ValueError
for inf voxels) and ``simcase index`` reported a ValueError for a singular affine.
"""

from __future__ import annotations

import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dicom_conversion import read_brats_case
from dicom_conversion.errors import NiftiError
from dicom_conversion.nifti import read_nifti

SHAPE = (6, 5, 4)


def _write(
    path: Path, data: np.ndarray, patch: tuple[int, str, tuple[float, ...]] | None = None
) -> Path:
    raw = bytearray(nib.Nifti1Image(data, np.eye(4)).to_bytes())
    if patch is not None:
        offset, fmt, values = patch
        struct.pack_into("<" + fmt, raw, offset, *values)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    ("data", "patch", "message"),
    [
        # dim[1] = 0: nibabel reads a (0, 5, 4) array
        (np.ones(SHAPE, np.int16), (42, "h", (0,)), "is not a 3D image"),
        (np.full(SHAPE, np.inf, np.float32), None, "holds no finite voxel"),
        (np.full(SHAPE, np.nan, np.float32), None, "holds no finite voxel"),
        # qform off, sform all zeros: a singular affine
        (np.ones(SHAPE, np.int16), (252, "hh", (0, 1)), "cannot be oriented"),
        # sform with NaN
        (np.ones(SHAPE, np.int16), (280, "ff", (float("nan"), 0.0)), "affine that is not finite"),
    ],
    ids=["empty-axis", "all-inf", "all-nan", "singular-affine", "nan-affine"],
)
def test_a_broken_nifti_is_a_nifti_error(
    tmp_path: Path, data: np.ndarray, patch: tuple[int, str, tuple[float, ...]] | None, message: str
) -> None:
    path = _write(tmp_path / "x.nii", data, patch)
    if patch is not None and patch[0] == 252:  # the zero sform rows as well
        raw = bytearray(path.read_bytes())
        struct.pack_into("<12f", raw, 280, *[0.0] * 12)
        path.write_bytes(bytes(raw))
    with pytest.raises(NiftiError, match=message):
        read_nifti(path)


def test_non_finite_voxels_read_as_zero(tmp_path: Path) -> None:
    data = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE) + 1
    data[0, 0, 0], data[1, 1, 1] = np.nan, -np.inf
    array, _ = read_nifti(_write(tmp_path / "x.nii", data))
    assert np.isfinite(array).all()
    assert (array == 0).sum() == 2
    assert array.sum() == pytest.approx(data[np.isfinite(data)].sum())


def test_a_nan_segmentation_is_a_nifti_error_not_a_cast_warning(tmp_path: Path) -> None:
    case = tmp_path / "q"
    case.mkdir()
    _write(case / "q-t1n.nii", np.ones(SHAPE, np.int16))
    _write(case / "q-seg.nii", np.full(SHAPE, np.nan, np.float32))
    with pytest.raises(NiftiError, match="holds no finite voxel"):
        read_brats_case(case)
