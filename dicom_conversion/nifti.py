"""NIfTI (nibabel, RAS) read and write, and the BraTS case layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
import nibabel as _nib
import numpy as np

from dicom_conversion.errors import NiftiError
from dicom_conversion.orientation import affine_ras_to_lps, to_canonical
from dicom_conversion.sequences import MRSequence
from dicom_conversion.volumes import SeriesVolume, StudyVolumes

nib: Any = _nib

__all__ = [
    "BRATS_LEGACY_SUFFIXES",
    "read_brats_case",
    "read_nifti",
    "read_series_nifti",
    "write_brats_case",
    "write_nifti",
    "write_series_nifti",
]

BRATS_LEGACY_SUFFIXES: dict[MRSequence, str] = {
    MRSequence.T1: "t1",
    MRSequence.T1C: "t1ce",
    MRSequence.T2: "t2",
    MRSequence.FLAIR: "flair",
}


def read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A NIfTI file as a canonical (X, Y, Z) float32 array and its RAS affine.

    Voxels that are not finite (NaN, inf) read as 0.

    Raises
    ------
    NiftiError
        If the file is missing, unreadable, not 3D, empty along an axis, holds no finite
        voxel, or its affine is not finite or cannot be oriented.
    """
    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj)
        affine = np.asarray(image.affine, dtype=np.float64)
    except Exception as exc:  # nibabel raises many kinds for broken files
        raise NiftiError(f"Cannot read NIfTI file {path}: {type(exc).__name__}: {exc}") from exc
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3 or data.size == 0:
        raise NiftiError(f"NIfTI file {path} is not a 3D image (shape {data.shape})")
    if not np.isfinite(affine).all():
        raise NiftiError(f"NIfTI file {path} has an affine that is not finite")
    if np.issubdtype(data.dtype, np.inexact) and not np.isfinite(data).all():
        finite = np.isfinite(data)
        if not finite.any():
            raise NiftiError(f"NIfTI file {path} holds no finite voxel")
        data = np.where(finite, data, 0)
    try:
        return to_canonical(data, affine)
    except ValueError as exc:  # a singular affine: no axis to orient
        raise NiftiError(f"NIfTI file {path} cannot be oriented: {exc}") from exc


def write_nifti(array: np.ndarray, affine_ras: np.ndarray, path: Path) -> Path:
    """Write an (X, Y, Z) array with its RAS affine as NIfTI-1 (gzip when ``.gz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(np.asarray(array), np.asarray(affine_ras, dtype=np.float64))
    image.header.set_xyzt_units("mm", "sec")
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=1)
    nib.save(image, str(path))
    return path


def write_series_nifti(series: SeriesVolume, path: Path) -> Path:
    """Write a ``SeriesVolume`` as NIfTI in the canonical RAS orientation."""
    array, affine = series.canonical()
    return write_nifti(array, affine, path)


def read_series_nifti(
    path: Path,
    *,
    sequence: MRSequence = MRSequence.OTHER,
    study_instance_uid: str = "",
    series_instance_uid: str = "",
    frame_of_reference_uid: str | None = None,
) -> SeriesVolume:
    """Read a NIfTI file as a ``SeriesVolume`` (LPS ``highdicom.Volume``)."""
    array, affine = read_nifti(path)
    volume = hd.Volume(
        array=np.ascontiguousarray(array, dtype=np.float32),
        affine=affine_ras_to_lps(affine),
        coordinate_system="PATIENT",
        frame_of_reference_uid=frame_of_reference_uid,
    )
    return SeriesVolume(
        volume=volume,
        study_instance_uid=study_instance_uid,
        series_instance_uid=series_instance_uid,
        frame_of_reference_uid=frame_of_reference_uid,
        sequence=sequence,
        description=path.name,
    )


def _find(case_dir: Path, case_id: str, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        for sep in ("-", "_"):
            for ext in (".nii.gz", ".nii"):
                candidate = case_dir / f"{case_id}{sep}{suffix}{ext}"
                if candidate.is_file():
                    return candidate
    return None


def read_brats_case(case_dir: Path) -> StudyVolumes:
    """Read a BraTS-layout case folder into ``StudyVolumes``.

    Accepts BraTS 2023 names (``<case>-{t1n,t1c,t2w,t2f,seg}.nii.gz``) and the
    older ``<case>_{t1,t1ce,t2,flair,seg}.nii.gz``. ``case_id`` is the folder
    name; the ``seg`` file, when present, becomes ``mask``.

    Raises
    ------
    NiftiError
        If the folder holds none of the four images, or the grids differ.
    """
    case_dir = Path(case_dir)
    case_id = case_dir.name
    if not case_dir.is_dir():
        raise NiftiError(f"BraTS case folder {case_dir} does not exist")
    arrays: dict[MRSequence, np.ndarray] = {}
    affine: np.ndarray | None = None
    reference: Path | None = None
    for sequence in MRSequence.ordered():
        path = _find(case_dir, case_id, (sequence.brats_suffix, BRATS_LEGACY_SUFFIXES[sequence]))
        if path is None:
            continue
        data, this_affine = read_nifti(path)
        if affine is None:
            affine, reference = this_affine, path
        _check_grid(affine, this_affine, data.shape, arrays, path, reference)
        arrays[sequence] = data.astype(np.float32, copy=False)
    if affine is None:
        raise NiftiError(
            f"BraTS case folder {case_dir} holds no {case_id}-{{t1n,t1c,t2w,t2f}}.nii.gz "
            "(nor the older _t1/_t1ce/_t2/_flair names)"
        )
    mask = None
    seg_path = _find(case_dir, case_id, ("seg",))
    if seg_path is not None:
        seg, seg_affine = read_nifti(seg_path)
        _check_grid(affine, seg_affine, seg.shape, arrays, seg_path, reference)
        if seg.min() < 0 or seg.max() > 255:
            raise NiftiError(f"Segmentation {seg_path} has labels outside 0..255")
        mask = np.rint(seg).astype(np.uint8)
        mask[mask == 4] = 3  # BraTS <= 2020 used 4 for enhancing tumour
    return StudyVolumes(arrays=arrays, affine=affine, mask=mask, case_id=case_id)


def _check_grid(
    affine: np.ndarray,
    other: np.ndarray,
    shape: tuple[int, ...],
    arrays: dict[MRSequence, np.ndarray],
    path: Path,
    reference: Path | None,
) -> None:
    if not np.allclose(affine, other, atol=1e-3):
        raise NiftiError(f"{path} is not on the grid of {reference} (affines differ)")
    for array in arrays.values():
        if array.shape != shape:
            raise NiftiError(f"{path} has shape {shape}, {reference} has {array.shape}")


def write_brats_case(study: StudyVolumes, out_dir: Path, case_id: str) -> Path:
    """Write ``study`` as ``<out_dir>/<case_id>/<case_id>-{t1n,t1c,t2w,t2f,seg}.nii.gz``.

    Images are written as int16 (values rounded and clipped to the int16
    range), the mask as uint8. Returns the case folder.
    """
    case_dir = Path(out_dir) / case_id
    case_dir.mkdir(parents=True, exist_ok=True)
    for sequence, array in study.arrays.items():
        if sequence is MRSequence.OTHER:
            continue
        data = np.clip(np.rint(array), -32768, 32767).astype(np.int16)
        write_nifti(data, study.affine, case_dir / f"{case_id}-{sequence.brats_suffix}.nii.gz")
    if study.mask is not None:
        write_nifti(study.mask.astype(np.uint8), study.affine, case_dir / f"{case_id}-seg.nii.gz")
    return case_dir
