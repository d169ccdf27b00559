"""DICOM SEG (highdicom) of the BraTS tumour labels: write and read on a study grid."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from dicom_conversion.errors import SegmentationError
from dicom_conversion.orientation import LPS_TO_RAS, affine_ras_to_lps
from dicom_conversion.resampling import resample_to_grid
from dicom_conversion.volumes import StudyVolumes

__all__ = [
    "BRATS_LABELS",
    "PROPERTY_CATEGORY",
    "TUMOUR_REGIONS",
    "TumourRegion",
    "check_source_frames",
    "label_counts",
    "read_seg",
    "write_seg",
]

_Grid = TypeVar("_Grid", hd.Volume, hd.VolumeGeometry)


@dataclass(frozen=True)
class TumourRegion:
    """One BraTS tumour sub-region and its SNOMED CT segmented property type (as dcmqi's
    BraTS SEGs: necrosis, oedema, neoplasm for the enhancing tumour)."""

    label: int
    name: str
    property_type: hd.sr.CodedConcept

    __module__ = "dicom_conversion"


#: BraTS labels 1..3 (simcase's mask convention), in SEG segment order.
TUMOUR_REGIONS: tuple[TumourRegion, ...] = (
    TumourRegion(1, "Necrotic tumour core", hd.sr.CodedConcept.from_code(codes.SCT.Necrosis)),
    TumourRegion(2, "Peritumoural oedema", hd.sr.CodedConcept.from_code(codes.SCT.Edema)),
    TumourRegion(3, "Enhancing tumour", hd.sr.CodedConcept.from_code(codes.SCT.Neoplasm)),
)
#: The segment label of each BraTS label.
BRATS_LABELS: dict[int, str] = {region.label: region.name for region in TUMOUR_REGIONS}
_REGION_OF = {region.label: region for region in TUMOUR_REGIONS}
#: The segmented property category of every region.
PROPERTY_CATEGORY = hd.sr.CodedConcept.from_code(codes.SCT.MorphologicallyAbnormalStructure)
_TRACKING = "BraTS label {}"
_TRACKING_RE = re.compile(r"BraTS label (\d+)")


#: Up to this many label values a mask is counted by comparisons, not by a histogram.
_FEW_LABELS = 8


def label_counts(mask: np.ndarray) -> dict[int, int]:
    """The voxel count of each value present in an integer label mask, in ascending
    order of value (``np.unique(mask, return_counts=True)``, without its sort of every
    voxel when the mask is unsigned: one comparison pass per value up to a few labels,
    else one ``np.bincount`` pass)."""
    values = np.asarray(mask)
    if values.dtype.kind in "ub" and values.size:
        top = int(values.max())
        if top < _FEW_LABELS:
            per_value = (int(np.count_nonzero(values == v)) for v in range(top + 1))
            return {v: n for v, n in enumerate(per_value) if n}
        counts = np.bincount(values.ravel())
        return {int(v): int(counts[v]) for v in np.flatnonzero(counts)}
    labels, found = np.unique(values, return_counts=True)
    return {int(v): int(n) for v, n in zip(labels, found, strict=True)}


def write_seg(
    mask_xyz: np.ndarray,
    affine_ras: np.ndarray,
    source_images: Sequence[Dataset],
    *,
    series_number: int = 900,
    series_description: str = "simcase tumour segmentation",
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    tracking_uids: Mapping[int, str] | None = None,
    manufacturer: str = "simcase",
    software_version: str = "0.1.0",
    algorithm_name: str = "simcase",
    on_source_frames: bool = False,
    content_label: str | None = None,
    content_description: str | None = None,
    content_creator_name: str | None = None,
) -> hd.seg.Segmentation:
    """A BINARY DICOM SEG with one segment per BraTS label present in ``mask_xyz``.

    Parameters
    ----------
    mask_xyz:
        uint8 label mask (0 background, 1 necrotic core, 2 oedema, 3 enhancing)
        on the grid of ``affine_ras`` (canonical or any RAS grid).
    affine_ras:
        4x4 voxel-to-RAS affine of ``mask_xyz``.
    source_images:
        The images the mask was derived from (same study and frame of reference).
    series_instance_uid, sop_instance_uid:
        The object's UIDs (new ones when None).
    tracking_uids:
        The TrackingUID of each BraTS label's segment (new ones when None).
    software_version:
        SoftwareVersions and the segment algorithm's version.
    on_source_frames:
        Write the frames on the geometry of ``source_images`` (one series), one frame
        per source slice, as viewers that overlay a SEG on its source series (OHIF)
        expect; the mask's grid must map onto it without resampling. False: on the
        mask's own grid.
    content_label, content_description, content_creator_name:
        As highdicom's (its defaults when None).

    Raises
    ------
    SegmentationError
        Not 3D, no source image, no label present, labels outside 1..3, the mask's grid
        does not match the source frames, or highdicom refused the object.
    """
    mask = np.asarray(mask_xyz)
    if mask.ndim != 3:
        raise SegmentationError(f"Argument 'mask_xyz' must be 3D, got shape {mask.shape}")
    if not source_images:
        raise SegmentationError("Argument 'source_images' must hold at least one image")
    labels = [v for v in label_counts(mask) if v != 0]
    unknown = [v for v in labels if v not in BRATS_LABELS]
    if unknown:
        raise SegmentationError(f"Mask holds labels {unknown} outside the BraTS labels 1..3")
    if not labels:
        raise SegmentationError("Mask is empty: a SEG needs at least one labelled voxel")
    relabelled = np.zeros(mask.shape, dtype=np.uint8)
    for number, label in enumerate(labels, start=1):
        relabelled[mask == label] = number
    frame = source_images[0].get("FrameOfReferenceUID")
    volume = hd.Volume(
        array=relabelled,
        affine=affine_ras_to_lps(np.asarray(affine_ras, dtype=np.float64)),
        coordinate_system="PATIENT",
        frame_of_reference_uid=str(frame) if frame else None,
    )
    if on_source_frames:
        volume = _on_frames(volume, source_images)
    algorithm = hd.AlgorithmIdentificationSequence(
        name=algorithm_name, version=software_version, family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=BRATS_LABELS[label],
            segmented_property_category=PROPERTY_CATEGORY,
            segmented_property_type=_REGION_OF[label].property_type,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            tracking_id=_TRACKING.format(label),
            tracking_uid=(tracking_uids or {}).get(label) or generate_uid(),
        )
        for number, label in enumerate(labels, start=1)
    ]
    try:
        return hd.seg.Segmentation(
            source_images=list(source_images),
            pixel_array=volume,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=series_instance_uid or generate_uid(),
            series_number=series_number,
            sop_instance_uid=sop_instance_uid or generate_uid(),
            instance_number=1,
            manufacturer=manufacturer,
            manufacturer_model_name="simcase",
            software_versions=software_version,
            device_serial_number="0",
            series_description=series_description,
            content_label=content_label,
            content_description=content_description,
            content_creator_name=content_creator_name,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise SegmentationError(f"highdicom refused the SEG: {exc}") from exc


def check_source_frames(
    mask_shape: Sequence[int], affine_ras: np.ndarray, source_images: Sequence[Dataset]
) -> None:
    """Raise :class:`SegmentationError` when a mask of ``mask_shape`` on ``affine_ras``
    cannot be written on the frames of ``source_images`` without resampling
    (:func:`write_seg`'s ``on_source_frames`` check, on the grids alone)."""
    affine = affine_ras_to_lps(np.asarray(affine_ras, dtype=np.float64))
    _on_frames(hd.VolumeGeometry(affine, list(mask_shape), "PATIENT"), source_images)


def _on_frames(grid: _Grid, source_images: Sequence[Dataset]) -> _Grid:
    try:
        return grid.match_geometry(_geometry(source_images))
    except RuntimeError as exc:
        series = source_images[0].get("SeriesInstanceUID", "?")
        raise SegmentationError(f"The mask's grid does not match series {series}: {exc}") from exc


def _geometry(series: Sequence[Dataset]) -> hd.VolumeGeometry:
    """The volume geometry of one series' instances, in highdicom's frame order."""
    orientation = np.asarray(series[0].ImageOrientationPatient, dtype=np.float64)
    # highdicom stacks frames down axis 0 so that (frame, row, column) is right-handed:
    # the frame axis is the column direction cosine crossed with the row direction cosine.
    normal = np.cross(orientation[3:], orientation[:3])
    ordered = sorted(
        series, key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float)))
    )
    first = ordered[0]
    if len(ordered) > 1:
        step = np.asarray(ordered[1].ImagePositionPatient, float) - np.asarray(
            first.ImagePositionPatient, float
        )
        spacing = float(np.linalg.norm(step))
    else:
        spacing = float(first.get("SliceThickness", 1.0) or 1.0)
    frame = first.get("FrameOfReferenceUID")
    return hd.VolumeGeometry.from_attributes(
        image_position=[float(v) for v in first.ImagePositionPatient],
        image_orientation=[float(v) for v in first.ImageOrientationPatient],
        rows=int(first.Rows),
        columns=int(first.Columns),
        pixel_spacing=[float(v) for v in first.PixelSpacing],
        spacing_between_slices=spacing,
        number_of_frames=len(ordered),
        coordinate_system="PATIENT",
        frame_of_reference_uid=str(frame) if frame else None,
    )


def _brats_label(description: Dataset, number: int) -> int:
    match = _TRACKING_RE.fullmatch(str(description.get("TrackingID", "")))
    if match:
        return int(match.group(1))
    label = str(description.get("SegmentLabel", "")).lower()
    for value, name in BRATS_LABELS.items():
        if name.lower() == label:
            return value
    keywords = {"necro": 1, "core": 1, "edema": 2, "oedema": 2, "enhanc": 3}
    for key, value in keywords.items():
        if key in label:
            return value
    return number if number in BRATS_LABELS else 1


def read_seg(seg: Dataset, study: StudyVolumes) -> np.ndarray:
    """The SEG ``seg`` as a uint8 BraTS label mask on the grid of ``study``.

    Segments are mapped to BraTS labels by simcase's TrackingID, else by their
    label text (necrotic / oedema / enhancing), else by segment number.

    Raises
    ------
    SegmentationError
        The SEG is unreadable, not a regular volume, or in another frame of reference.
    """
    try:
        segmentation = hd.seg.Segmentation.from_dataset(seg, copy=False)
    except Exception as exc:  # highdicom raises several kinds on malformed SEGs
        raise SegmentationError(f"Cannot read SEG {seg.get('SOPInstanceUID', '?')}: {exc}") from exc
    frame = seg.get("FrameOfReferenceUID")
    if study.frame_of_reference_uid and frame and str(frame) != study.frame_of_reference_uid:
        raise SegmentationError(
            f"SEG {seg.SOPInstanceUID} is in frame of reference {frame}, the study grid in "
            f"{study.frame_of_reference_uid}"
        )
    mask = np.zeros(study.shape, dtype=np.uint8)
    for description in seg.SegmentSequence:
        number = int(description.SegmentNumber)
        try:
            volume = segmentation.get_volume(segment_numbers=[number], combine_segments=True)
        except Exception as exc:
            raise SegmentationError(
                f"SEG {seg.SOPInstanceUID} segment {number} is not a regular volume: {exc}"
            ) from exc
        array = np.asarray(volume.array)
        if array.ndim == 4:
            array = array[..., 0]
        on_grid = resample_to_grid(
            (array > 0).astype(np.uint8),
            LPS_TO_RAS @ volume.affine,
            study.shape,
            study.affine,
            order=0,
        )
        mask[on_grid > 0] = _brats_label(description, number)
    return mask
