"""The optional outline objects: a DICOM SEG of the query's tumour mask and a TID 1500
measurement report of its compartments' volumes that references the SEG.

The mask lives on the study grid (the canonical (X, Y, Z) RAS grid of the study's
reference series, see :func:`dicom_conversion.load_study`); the SEG is written on the
geometry of that reference series, one frame per source slice, so viewers that overlay
a SEG on its source series (OHIF) find the frames they expect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import highdicom as hd
import numpy as np
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom import Dataset
from pydicom.sr.codedict import codes

from dicom_conversion import TUMOUR_REGIONS, SegmentationError, TumourRegion, write_seg
from dicom_conversion.seg import PROPERTY_CATEGORY, label_counts
from plugin.errors import OutlineError

__all__ = [
    "COMPARTMENTS",
    "MEASUREMENTS_SERIES_NUMBER",
    "SEG_SERIES_NUMBER",
    "build_measurement_report",
    "build_segmentation",
    "compartment_volumes_ml",
    "source_series",
]

SEG_SERIES_NUMBER = 9903
MEASUREMENTS_SERIES_NUMBER = 9904
SEG_DESCRIPTION = "simcase tumour outline (not for diagnostic use)"
MEASUREMENTS_DESCRIPTION = "simcase tumour volumes (not for diagnostic use)"


#: The BraTS compartments in SEG segment order (dicom_conversion's tumour regions, with
#: their SNOMED CT property types).
COMPARTMENTS: tuple[TumourRegion, ...] = TUMOUR_REGIONS
_ML = hd.sr.CodedConcept("ml", "UCUM", "milliliter")


def source_series(datasets: Sequence[Dataset], series_instance_uid: str) -> list[Dataset]:
    """The instances of one series, in highdicom's frame order (as
    :func:`dicom_conversion.write_seg` writes frames on a source series).

    Raises
    ------
    OutlineError
        The series is not among ``datasets`` or its instances lack image geometry.
    """
    series = [
        ds
        for ds in datasets
        if str(ds.get("SeriesInstanceUID", "")) == series_instance_uid
        and "ImagePositionPatient" in ds
        and "ImageOrientationPatient" in ds
    ]
    if not series:
        raise OutlineError(f"No image instances of series {series_instance_uid} in the study")
    orientation = np.asarray(series[0].ImageOrientationPatient, dtype=np.float64)
    # highdicom stacks frames down axis 0 so that (frame, row, column) is right-handed:
    # the frame axis is the column direction cosine crossed with the row direction cosine.
    normal = np.cross(orientation[3:], orientation[:3])
    return sorted(
        series, key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float)))
    )


def measurement_report_sr(
    groups: Sequence[hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations],
    evidence: Sequence[Dataset],
    *,
    uid: Callable[[str], str],
    keys: tuple[str, str, str],
    series_number: int,
    description: str,
    now: dt.datetime,
    coding_schemes: Sequence[CodingSchemeIdentificationItem] = (),
) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 Measurement Report of ``groups`` by the simcase device, as a
    Comprehensive 3D SR (``keys``: the uid keys of device, series and instance)."""
    device, series_key, instance_key = keys
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=uid(device), name="simcase", model_name="simcase"
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.BrainMRI,
        imaging_measurements=list(groups),
        title=codes.DCM.ImagingMeasurementReport,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=list(evidence),
        content=report,
        series_instance_uid=uid(series_key),
        series_number=series_number,
        sop_instance_uid=uid(instance_key),
        instance_number=1,
        manufacturer="simcase",
        is_complete=True,
        is_final=False,
        series_description=description,
        content_date=now.date(),
        content_time=now.time().replace(microsecond=0),
        coding_schemes=list(coding_schemes) or None,
    )
    _set_series_time(sr, now)
    return sr


def _set_series_time(ds: Dataset, when: dt.datetime) -> None:
    ds.SeriesDate = when.strftime("%Y%m%d")
    ds.SeriesTime = when.strftime("%H%M%S")


def compartment_volumes_ml(mask: np.ndarray, affine_ras: np.ndarray) -> dict[int, float]:
    """Volume in ml of each BraTS label present in ``mask`` (voxel volume from the affine)."""
    voxel_ml = abs(float(np.linalg.det(np.asarray(affine_ras, float)[:3, :3]))) / 1000.0
    known = {c.label for c in COMPARTMENTS}
    return {
        label: float(count) * voxel_ml
        for label, count in label_counts(mask).items()
        if label in known
    }


def build_segmentation(
    mask: np.ndarray,
    affine_ras: np.ndarray,
    series: Sequence[Dataset],
    *,
    model_version: str,
    mask_source: str,
    uid: Callable[[str], str],
    now: dt.datetime,
) -> hd.seg.Segmentation:
    """A BINARY SEG of ``mask`` on the geometry of ``series`` (the study's reference series).

    Parameters
    ----------
    mask
        uint8 BraTS label mask (X, Y, Z) on the grid of ``affine_ras``.
    affine_ras
        The study grid's voxel-to-RAS affine.
    series
        The reference series' instances, sorted (see :func:`source_series`).
    model_version
        Recorded as the segment algorithm's version and in SoftwareVersions.
    mask_source
        ``"given"`` (a SEG in the study) or ``"segmenter"`` (simcase's model).
    uid
        Makes the object's UIDs from a role name (reproducible per content).
    now
        Series and content date and time.

    Raises
    ------
    OutlineError
        Empty mask, or the study grid cannot be mapped onto the series without resampling.
    ValueError, TypeError, AttributeError
        highdicom cannot encode a value of the series (as raised by highdicom).
    """
    known = np.isin(mask, [c.label for c in COMPARTMENTS])
    if not np.any(known & (np.asarray(mask) != 0)):
        raise OutlineError("The tumour mask is empty: no SEG to write")
    try:
        seg = write_seg(
            np.where(known, mask, 0).astype(np.uint8),
            affine_ras,
            series,
            series_number=SEG_SERIES_NUMBER,
            series_description=SEG_DESCRIPTION,
            series_instance_uid=uid("seg-series"),
            sop_instance_uid=uid("seg-instance"),
            tracking_uids={c.label: uid(f"seg-tracking-{c.label}") for c in COMPARTMENTS},
            software_version=model_version[:64],
            algorithm_name=(
                "simcase segmentation model" if mask_source != "given" else "simcase (given SEG)"
            ),
            on_source_frames=True,
            content_label="TUMOUR",
            content_description="Tumour compartments, not for diagnostic use",
            content_creator_name="simcase^",
        )
    except SegmentationError as exc:
        refused = exc.__cause__
        if isinstance(refused, ValueError | TypeError | AttributeError):
            # A value highdicom cannot encode (a nan SliceThickness, say) keeps its own
            # type, as before: OutlineError means "the mask does not fit its series".
            raise refused from None
        raise OutlineError(str(exc)) from exc
    _set_series_time(seg, now)
    seg.ContentDate, seg.ContentTime = seg.SeriesDate, seg.SeriesTime
    return seg


def build_measurement_report(
    seg: hd.seg.Segmentation,
    volumes_ml: dict[int, float],
    series: Sequence[Dataset],
    *,
    model_version: str,
    uid: Callable[[str], str],
    now: dt.datetime,
) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 measurement report: the volume of each compartment in ``seg``."""
    algorithm = hd.sr.AlgorithmIdentification(
        name="simcase",
        version=model_version[:64],
        family=hd.sr.CodedConcept.from_code(codes.cid7162.ArtificialIntelligence),
    )
    groups = []
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        compartment = next(c for c in COMPARTMENTS if c.name == item.SegmentLabel)
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=uid(f"sr-tracking-{compartment.label}"), identifier=compartment.name
                ),
                referenced_segment=hd.sr.ReferencedSegment(
                    sop_class_uid=str(seg.SOPClassUID),
                    sop_instance_uid=str(seg.SOPInstanceUID),
                    segment_number=number,
                    source_series=hd.sr.SourceSeriesForSegmentation(
                        str(series[0].SeriesInstanceUID)
                    ),
                ),
                finding_type=compartment.property_type,
                finding_category=PROPERTY_CATEGORY,
                measurements=[
                    hd.sr.Measurement(
                        name=codes.SCT.Volume,
                        value=round(volumes_ml.get(compartment.label, 0.0), 3),
                        unit=_ML,
                        algorithm_id=algorithm,
                    )
                ],
            )
        )
    sr = measurement_report_sr(
        groups,
        [seg, *series],
        uid=uid,
        keys=("sr-device", "measurements-series", "measurements-instance"),
        series_number=MEASUREMENTS_SERIES_NUMBER,
        description=MEASUREMENTS_DESCRIPTION,
        now=now,
    )
    sr.ManufacturerModelName = "simcase"
    sr.SoftwareVersions = model_version[:64]
    return sr
