"""A synthetic case as a DICOM MR study: four series and a SEG, ready for ``storescu``.

Everything goes through :func:`dicom_conversion.write_mr_series` and
:func:`dicom_conversion.write_seg`. Series descriptions and acquisition
attributes imitate one of three vendors per case, so sequence recognition is
exercised the way real archives exercise it. UIDs and dates are derived from
the case, so the export is reproducible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydicom import Dataset

from dicom_conversion import MRSequence, StudyInfo, save_series, write_mr_series, write_seg
from models.synth.case import SyntheticCase
from models.synth.plan import DICOM_STYLE, CasePlan, stream

__all__ = ["VENDORS", "case_datasets", "write_case_dicom"]

VENDORS: dict[str, dict[str, Any]] = {
    "SIEMENS": {
        "descriptions": {
            MRSequence.T1: "t1_mprage_tra_p2_iso",
            MRSequence.T1C: "t1_mprage_tra_p2_iso_KM",
            MRSequence.T2: "t2_tse_tra_512",
            MRSequence.FLAIR: "t2_tirm_tra_dark-fluid",
        },
        "model": "MAGNETOM Skyra",
    },
    "GE MEDICAL SYSTEMS": {
        "descriptions": {
            MRSequence.T1: "Ax T1 BRAVO",
            MRSequence.T1C: "Ax T1 BRAVO +C",
            MRSequence.T2: "Ax T2 FSE",
            MRSequence.FLAIR: "Ax T2 FLAIR",
        },
        "model": "DISCOVERY MR750",
    },
    "Philips": {
        "descriptions": {
            MRSequence.T1: "T1W_3D_TFE",
            MRSequence.T1C: "T1W_3D_TFE +GD",
            MRSequence.T2: "T2W_TSE",
            MRSequence.FLAIR: "T2W_FLAIR",
        },
        "model": "Ingenia",
    },
}
_EPOCH = dt.datetime(2021, 1, 4, 8, 0, 0)


def _visit_datetime(plan: CasePlan) -> dt.datetime:
    """Deterministic study date: patients a day apart, later visits months later."""
    return _EPOCH + dt.timedelta(
        days=plan.patient_index % 1500 + 120 * (plan.timepoint - 1),
        minutes=17 * (plan.index % 29),
    )


def case_datasets(
    case: SyntheticCase, plan: CasePlan, *, vendor: str | None = None
) -> tuple[list[Dataset], Dataset]:
    """The MR instances of the four series and the SEG of one case.

    ``vendor`` (a key of :data:`VENDORS`) overrides the case's own vendor style.
    """
    study = case.study
    if study.study_instance_uid is None or study.mask is None:
        raise ValueError("Argument 'case' must carry a study UID and a mask.")
    vendors = sorted(VENDORS)
    if vendor is None:
        vendor = vendors[int(stream(plan.seed, plan.index, DICOM_STYLE).integers(len(vendors)))]
    elif vendor not in VENDORS:
        raise ValueError(f"Argument 'vendor' must be one of {vendors}, got {vendor!r}.")
    style = VENDORS[vendor]
    when = _visit_datetime(plan)
    birth = dt.date(when.year - case.age, 1 + plan.patient_index % 12, 1 + plan.patient_index % 28)
    info = StudyInfo(
        study_instance_uid=study.study_instance_uid,
        patient_name=f"SYNTHETIC^{case.patient_id}",
        patient_id=case.patient_id,
        patient_birth_date=birth.strftime("%Y%m%d"),
        patient_sex=case.sex,
        patient_age=f"{case.age:03d}Y",
        study_date=when.strftime("%Y%m%d"),
        study_time=when.strftime("%H%M%S"),
        accession_number=f"A{plan.seed % 1000:03d}{plan.index:07d}",
        study_description="MR BRAIN W/WO CONTRAST (SYNTHETIC)",
        frame_of_reference_uid=study.frame_of_reference_uid,
    )
    instances: list[Dataset] = []
    t1c: list[Dataset] = []
    for number, sequence in enumerate(MRSequence.ordered(), start=1):
        series = write_mr_series(
            study.arrays[sequence],
            study.affine,
            sequence=sequence,
            study=info,
            series_number=number,
            series_description=style["descriptions"][sequence],
            manufacturer=vendor,
            attributes={"ManufacturerModelName": style["model"]},
            series_datetime=when + dt.timedelta(minutes=4 * number),
        )
        instances.extend(series)
        if sequence is MRSequence.T1C:
            t1c = series
    seg = write_seg(
        study.mask,
        study.affine,
        t1c,
        series_number=900,
        series_description="Tumour labels (synthetic ground truth)",
        algorithm_name="simcase synth",
        # Not "simcase": the PACS loop guard treats Manufacturer "simcase" as its own results.
        manufacturer="simcase-synth",
    )
    return instances, seg


def write_case_dicom(case: SyntheticCase, plan: CasePlan, out_dir: Path) -> Path:
    """Write ``out_dir/<case_id>/<series_uid>/<sop_uid>.dcm`` for the series and the SEG."""
    instances, seg = case_datasets(case, plan)
    case_dir = Path(out_dir) / case.case_id
    by_series: dict[str, list[Dataset]] = {}
    for ds in [*instances, seg]:
        by_series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
    for series_uid, datasets in by_series.items():
        save_series(datasets, case_dir / series_uid)
    return case_dir
