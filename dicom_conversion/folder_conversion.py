"""A folder of DICOM files (one study) to a BraTS-layout case: ``simcase convert``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicom_conversion.errors import NoUsableSeriesError
from dicom_conversion.files import read_dicom_folder
from dicom_conversion.nifti import write_brats_case
from dicom_conversion.recognition_rules import RecognitionRules
from dicom_conversion.sequences import MRSequence
from dicom_conversion.study_loading import load_study
from dicom_conversion.volumes import StudyVolumes

__all__ = ["FolderConversion", "convert_folder"]


@dataclass
class FolderConversion:
    """What ``convert_folder`` wrote and decided."""

    case_id: str
    case_dir: Path
    study: StudyVolumes
    skipped: dict[Path, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready account: every series' decision and reason, what is missing."""
        return {
            "case_id": self.case_id,
            "case_dir": str(self.case_dir),
            "study_instance_uid": self.study.study_instance_uid,
            "shape": list(self.study.shape),
            "spacing_mm": [round(v, 6) for v in self.study.spacing],
            "sequences": [s.value for s in self.study.arrays],
            "missing": [s.value for s in self.study.missing],
            "mask": self.study.mask is not None,
            "series": [
                {
                    "series_instance_uid": d.series_instance_uid,
                    "description": d.description,
                    "sequence": d.sequence.value,
                    "selected": d.selected,
                    "derived": d.derived,
                    "source": d.source,
                    "image_based": d.image_based,
                    "reason": d.reason,
                    "contrast": {
                        "rule": d.contrast_rule,
                        "attributes": d.contrast_by_attributes,
                        "description": d.contrast_by_description,
                        "enhancement_percent": d.enhancement_percent,
                    },
                    "evidence": dict(d.evidence),
                }
                for d in self.study.decisions
            ],
            "skipped_files": [str(p) for p in self.skipped],
        }


def _safe_case_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "case"


def convert_folder(
    study_dir: Path,
    out_dir: Path,
    *,
    case_id: str | None = None,
    reference: MRSequence = MRSequence.T1C,
    rules: RecognitionRules | None = None,
) -> FolderConversion:
    """Convert the DICOM study under ``study_dir`` to ``out_dir/<case>/<case>-*.nii.gz``.

    Non-DICOM files are skipped (listed in ``skipped``). ``case_id`` defaults to
    the StudyInstanceUID (never a patient attribute).

    Raises
    ------
    NoUsableSeriesError
        No DICOM file, or no usable T1/T1C/T2/FLAIR series.
    ConversionError
        Any other reason the study cannot be put on one grid.
    """
    contents = read_dicom_folder(study_dir)
    if not contents.datasets:
        raise NoUsableSeriesError(
            f"No DICOM files under {study_dir} ({len(contents.skipped)} other files skipped)"
        )
    study = load_study(contents.datasets, reference=reference, rules=rules)
    name = _safe_case_id(case_id or study.study_instance_uid or Path(study_dir).name)
    study.case_id = name
    case_dir = write_brats_case(study, out_dir, name)
    return FolderConversion(case_id=name, case_dir=case_dir, study=study, skipped=contents.skipped)
