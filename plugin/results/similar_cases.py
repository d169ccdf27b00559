"""The machine-readable similar-case list: a TID 1500 Measurement Report in a
Comprehensive 3D SR, the form IHE AI Results (AIR) asks of an AI result.

One TID 1411 measurement group per similar case, in rank order (the overall list, then
each diagnosis' list):

* tracking identifier: the archive case's pseudonymous case id (and a tracking UID made
  from it); never another patient's images, UIDs or identifiers;
* the query region: the query's tumour outline, a reference to every segment of the SEG
  simcase writes into the study (TID 1411 "Referenced Segment");
* finding: the query region as a neoplasm; the archive case's confirmed diagnosis as a
  SNOMED CT coded qualitative evaluation ("Diagnosis" = glioma, meningioma, ...);
* the similarity as a NUM in percent (UCUM ``%``), with TID 4019 algorithm
  identification (name, family, version = model version) on the group and the
  measurement.

docs/result-codes.md lists every code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import highdicom as hd
from pydicom import Dataset
from pydicom.sr.codedict import codes as dcm_codes

from plugin.results import codes
from plugin.results.facts import ResultHit
from plugin.results.report import ALGORITHM_NAME, similarity_percent
from plugin.results.segmentation import measurement_report_sr

__all__ = [
    "SIMILAR_CASES_DESCRIPTION",
    "SIMILAR_CASES_SERIES_NUMBER",
    "algorithm_identification",
    "build_similar_case_report",
]

SIMILAR_CASES_SERIES_NUMBER = 9905
SIMILAR_CASES_DESCRIPTION = "simcase similar-case list TID 1500 (not for diagnostic use)"

_CATEGORY = hd.sr.CodedConcept.from_code(dcm_codes.SCT.MorphologicallyAbnormalStructure)
_NEOPLASM = hd.sr.CodedConcept.from_code(dcm_codes.SCT.Neoplasm)


def algorithm_identification(model_version: str) -> hd.sr.AlgorithmIdentification:
    """TID 4019 of the similar-case search: name, family (artificial intelligence) and
    version (the embedding model's version)."""
    return hd.sr.AlgorithmIdentification(
        name=ALGORITHM_NAME,
        version=model_version[:64],
        family=codes.ALGORITHM_FAMILY_AI,
    )


def _ranked(
    hits: Sequence[ResultHit], per_diagnosis: dict[str, list[ResultHit]] | None
) -> list[tuple[str, ResultHit]]:
    """``(list name, hit)`` in report order; a case in both lists appears in both."""
    out = [("overall", hit) for hit in hits]
    for diagnosis, group in (per_diagnosis or {}).items():
        out.extend((diagnosis, hit) for hit in group)
    return out


def _region(seg: hd.seg.Segmentation, series_uid: str) -> hd.sr.ReferencedSegment:
    """Every segment of ``seg``: the query's whole tumour outline."""
    numbers = [int(item.SegmentNumber) for item in seg.SegmentSequence]
    if not numbers:
        raise ValueError("Argument 'seg' must hold at least one segment.")
    region = hd.sr.ReferencedSegment(
        sop_class_uid=str(seg.SOPClassUID),
        sop_instance_uid=str(seg.SOPInstanceUID),
        segment_number=numbers[0],
        source_series=hd.sr.SourceSeriesForSegmentation(series_uid),
    )
    # Referenced Segment Number is 1-n: the search used the whole tumour, all segments.
    region[0].ReferencedSOPSequence[0].ReferencedSegmentNumber = numbers
    return region


def _group(
    list_name: str,
    hit: ResultHit,
    seg: hd.seg.Segmentation,
    series_uid: str,
    algorithm: hd.sr.AlgorithmIdentification,
    uid: Callable[[str], str],
) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=uid(f"similar-case-tracking-{hit.case_id}"), identifier=hit.case_id[:64]
        ),
        referenced_segment=_region(seg, series_uid),
        finding_type=_NEOPLASM,
        finding_category=_CATEGORY,
        algorithm_id=algorithm,
        session=f"similar cases: {list_name}, rank {hit.rank}"[:64],
        measurements=[
            hd.sr.Measurement(
                name=codes.SIMILARITY,
                value=similarity_percent(hit.similarity),
                unit=codes.PERCENT,
                algorithm_id=algorithm,
            )
        ],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(
                name=codes.DIAGNOSIS_OBSERVABLE, value=codes.diagnosis_code(hit.diagnosis)
            )
        ],
    )


def build_similar_case_report(
    hits: Sequence[ResultHit],
    per_diagnosis: dict[str, list[ResultHit]] | None,
    seg: hd.seg.Segmentation,
    series: Sequence[Dataset],
    *,
    model_version: str,
    uid: Callable[[str], str],
    now: dt.datetime,
) -> hd.sr.Comprehensive3DSR:
    """The similar cases as a TID 1500 Measurement Report (Comprehensive 3D SR).

    Parameters
    ----------
    hits
        The overall most similar cases, best first.
    per_diagnosis
        The most similar cases of each diagnosis, or ``None``.
    seg
        The query's tumour outline (the SEG simcase writes into the study).
    series
        The SEG's source series (the study's reference series), sorted.
    model_version
        The embedding model's version (TID 4019 Algorithm Version).
    uid
        Makes the object's UIDs from a role name (reproducible per content).
    now
        Series and content date and time.

    Raises
    ------
    ValueError
        No similar case to report, or no source series.
    """
    ranked = _ranked(hits, per_diagnosis)
    if not ranked:
        raise ValueError("Argument 'hits' must hold at least one similar case.")
    if not series:
        raise ValueError("Argument 'series' must hold the SEG's source series.")
    series_uid = str(series[0].SeriesInstanceUID)
    algorithm = algorithm_identification(model_version)
    groups = [_group(name, hit, seg, series_uid, algorithm, uid) for name, hit in ranked]
    sr = measurement_report_sr(
        groups,
        [seg, *series],
        uid=uid,
        keys=("similar-cases-device", "similar-cases-series", "similar-cases-instance"),
        series_number=SIMILAR_CASES_SERIES_NUMBER,
        description=SIMILAR_CASES_DESCRIPTION,
        now=now,
        coding_schemes=[codes.CODING_SCHEME],
    )
    sr.ManufacturerModelName = "simcase"
    sr.SoftwareVersions = model_version[:64]
    return sr
