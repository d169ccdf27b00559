"""A DICOM study (many series) to ``StudyVolumes`` on one grid."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence

import numpy as np
from pydicom import Dataset
from pydicom.uid import SegmentationStorage

from dicom_conversion.contrast_pairing import decide_contrast_by_images
from dicom_conversion.errors import (
    ConversionError,
    CorruptDatasetError,
    FrameOfReferenceMismatchError,
    NoUsableSeriesError,
)
from dicom_conversion.image_recognition import classify_by_image
from dicom_conversion.raw_elements import raw_text
from dicom_conversion.recognition import recognise_series
from dicom_conversion.recognition_rules import RecognitionRules
from dicom_conversion.resampling import resample_to_grid
from dicom_conversion.sequences import MRSequence, SequenceDecision
from dicom_conversion.series_loading import load_series
from dicom_conversion.volumes import SeriesVolume, StudyVolumes

__all__ = ["group_series", "load_study"]

logger = logging.getLogger(__name__)


def group_series(datasets: Iterable[Dataset]) -> dict[str, list[Dataset]]:
    """Datasets grouped by SeriesInstanceUID, in first-seen order."""
    groups: dict[str, list[Dataset]] = {}
    for ds in datasets:
        groups.setdefault(raw_text(ds, 0x0020000E, "SeriesInstanceUID"), []).append(ds)
    return groups


def _is_seg(ds: Dataset) -> bool:
    return (
        raw_text(ds, 0x00080016, "SOPClassUID") == SegmentationStorage
        or raw_text(ds, 0x00080060, "Modality") == "SEG"
    )


def _voxels(series: Sequence[Dataset]) -> int:
    first = series[0]
    frames = int(first.get("NumberOfFrames", 1) or 1) if len(series) == 1 else len(series)
    return frames * int(first.get("Rows", 0) or 0) * int(first.get("Columns", 0) or 0)


def load_study(
    datasets: Iterable[Dataset],
    *,
    reference: MRSequence = MRSequence.T1C,
    rules: RecognitionRules | None = None,
) -> StudyVolumes:
    """Recognise, pick and resample the series of one study onto one grid.

    Parameters
    ----------
    datasets:
        All instances of the study, any order; non-image objects are skipped,
        a DICOM SEG becomes the mask.
    reference:
        The sequence whose grid the others are resampled onto (if present;
        otherwise the first present in ``MRSequence.ordered()``).
    rules:
        Sequence-recognition rules (site configuration).

    Returns
    -------
    StudyVolumes
        Canonical (X, Y, Z) arrays with a RAS affine, ``decisions`` for every
        series with their reasons, ``missing`` for the absent sequences.

    Raises
    ------
    NoUsableSeriesError
        No series could be used as T1, T1C, T2 or FLAIR.
    FrameOfReferenceMismatchError
        The chosen series do not share one FrameOfReferenceUID.
    """
    try:
        return _load_study(datasets, reference, rules or RecognitionRules())
    except ConversionError:
        raise
    except Exception as exc:  # corrupt values surface lazily from pydicom as many kinds
        raise CorruptDatasetError(
            f"Study has corrupt attributes ({type(exc).__name__}: {exc})"
        ) from exc


def _load_study(
    datasets: Iterable[Dataset], reference: MRSequence, rules: RecognitionRules
) -> StudyVolumes:
    images: list[Dataset] = []
    segs: list[Dataset] = []
    for ds in datasets:
        if _is_seg(ds):
            segs.append(ds)
        elif "PixelData" in ds and "ImageOrientationPatient" in ds:
            images.append(ds)
        elif "PerFrameFunctionalGroupsSequence" in ds and "PixelData" in ds:
            images.append(ds)
        else:
            logger.info(
                "skipping non-image instance",
                extra={
                    "sop_instance_uid": str(ds.get("SOPInstanceUID", "")),
                    "sop_class_uid": str(ds.get("SOPClassUID", "")),
                },
            )
    groups = group_series(images)
    decisions = {uid: recognise_series(series[0], rules) for uid, series in groups.items()}
    loaded: dict[str, SeriesVolume] = {}
    canonical: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    failures: dict[str, str] = {}
    for uid, decision in decisions.items():
        if decision.sequence is MRSequence.OTHER and not decision.needs_image:
            continue
        try:
            loaded[uid] = load_series(groups[uid], sequence=decision.sequence)
        except ConversionError as exc:
            failures[uid] = str(exc)
            logger.warning("series unusable", extra={"series_instance_uid": uid, "error": str(exc)})
            continue
        canonical[uid] = loaded[uid].canonical()

    decisions = _decide_from_images(decisions, canonical)
    chosen = _choose(decisions, groups, loaded)
    if not chosen:
        details = "; ".join(
            f"{uid}: {failures.get(uid) or d.sequence.value + ' (' + d.reason + ')'}"
            for uid, d in decisions.items()
        )
        raise NoUsableSeriesError(
            f"No usable T1/T1C/T2/FLAIR series among {len(groups)} series"
            + (f": {details}" if details else "")
        )
    ref_sequence = (
        reference if reference in chosen else next(s for s in MRSequence.ordered() if s in chosen)
    )
    ref_uid = chosen[ref_sequence]
    ref_frame = loaded[ref_uid].frame_of_reference_uid
    ref_array, ref_affine = canonical[ref_uid]
    arrays: dict[MRSequence, np.ndarray] = {}
    for sequence, uid in chosen.items():
        frame = loaded[uid].frame_of_reference_uid
        if ref_frame and frame and frame != ref_frame:
            raise FrameOfReferenceMismatchError(
                f"Series {uid} ({sequence.value}) is in frame of reference {frame}, "
                f"the reference series {ref_uid} in {ref_frame}: refusing to combine them"
            )
        array, affine = canonical[uid]
        arrays[sequence] = np.ascontiguousarray(
            resample_to_grid(array, affine, ref_array.shape, ref_affine), dtype=np.float32
        )
    selected = set(chosen.values())
    final_decisions = [
        dataclasses.replace(
            d,
            selected=uid in selected,
            reason=d.reason + (f"; unusable: {failures[uid]}" if uid in failures else ""),
        )
        for uid, d in decisions.items()
    ]
    study = StudyVolumes(
        arrays={s: arrays[s] for s in MRSequence.ordered() if s in arrays},
        affine=ref_affine,
        study_instance_uid=loaded[ref_uid].study_instance_uid or None,
        frame_of_reference_uid=ref_frame,
        decisions=final_decisions,
    )
    if segs:
        from dicom_conversion.seg import read_seg

        study.mask = read_seg(segs[0], study)
    for d in final_decisions:
        logger.info(
            "series decision",
            extra={
                "series_instance_uid": d.series_instance_uid,
                "sequence": d.sequence.value,
                "reason": d.reason,
                "selected": d.selected,
            },
        )
    if study.missing:
        logger.info("sequences missing", extra={"missing": [s.value for s in study.missing]})
    return study


def _decide_from_images(
    decisions: dict[str, SequenceDecision], canonical: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, SequenceDecision]:
    out = dict(decisions)
    for uid, decision in decisions.items():
        if not decision.needs_image or uid not in canonical:
            continue
        array, affine = canonical[uid]
        spacing = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
        sequence, reason = classify_by_image(array, (spacing[0], spacing[1], spacing[2]))
        if sequence is None:
            out[uid] = dataclasses.replace(
                decision,
                sequence=MRSequence.OTHER,
                reason=f"{decision.reason}; {reason}",
                source="image",
            )
            continue
        if sequence is MRSequence.T1 and decision.sequence is MRSequence.T1C:
            sequence = MRSequence.T1C
        out[uid] = dataclasses.replace(
            decision, sequence=sequence, reason=f"{decision.reason}; {reason}", source="image"
        )
    return decide_contrast_by_images(out, canonical)


def _choose(
    decisions: dict[str, SequenceDecision],
    groups: dict[str, list[Dataset]],
    loaded: dict[str, SeriesVolume],
) -> dict[MRSequence, str]:
    chosen: dict[MRSequence, str] = {}
    for sequence in MRSequence.ordered():
        candidates = [
            uid for uid, d in decisions.items() if d.sequence is sequence and uid in loaded
        ]
        if not candidates:
            continue

        def key(uid: str) -> tuple[bool, int, int]:
            number = groups[uid][0].get("SeriesNumber")
            return (
                decisions[uid].derived,
                -_voxels(groups[uid]),
                int(number) if number not in (None, "") else 1 << 30,
            )

        chosen[sequence] = min(candidates, key=key)
    return chosen
