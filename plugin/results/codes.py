"""Coded concepts used in simcase's result objects.

Standard codes (DCM, SCT, UCUM) where one fits; simcase's own concepts use the private
coding scheme ``99SIMCASE``, declared in every object that uses it.
"""

from __future__ import annotations

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept

from dicom_conversion import Diagnosis

__all__ = [
    "ALGORITHM_FAMILY",
    "ALGORITHM_FAMILY_AI",
    "ALGORITHM_NAME",
    "ALGORITHM_VERSION",
    "CASE_ID",
    "CODING_SCHEME",
    "COMMENT",
    "DIAGNOSIS",
    "DIAGNOSIS_CODES",
    "DIAGNOSIS_OBSERVABLE",
    "DISCLAIMER",
    "MISSING_SEQUENCES",
    "ML",
    "NO_UNITS",
    "PERCENT",
    "QUERY_TUMOUR",
    "REPORT_TITLE",
    "RESULT",
    "SEQUENCES_USED",
    "SEQUENCE_DECISION",
    "SIMILARITY",
    "STUDY_INSTANCE_UID",
    "SUMMARY",
    "SUPERSEDES",
    "TUMOUR_LOCATION",
    "TUMOUR_VOLUME",
    "diagnosis_code",
    "diagnosis_group",
    "similar_case",
]

SCHEME = "99SIMCASE"

CODING_SCHEME = CodingSchemeIdentificationItem(
    designator=SCHEME,
    name="simcase concepts",
    responsible_organization="simcase",
)


def _local(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning)


REPORT_TITLE = _local("SCR", "Similar case search report")
SUMMARY = _local("SUM", "Summary")
DISCLAIMER = _local("DISC", "Not for diagnostic use")
RESULT = _local("RES", "Result")
CASE_ID = _local("CASEID", "Case identifier")
DIAGNOSIS = _local("DX", "Confirmed diagnosis")
SIMILARITY = _local("SIM", "Similarity")
SEQUENCES_USED = _local("SEQ", "Sequences used")
MISSING_SEQUENCES = _local("MISSEQ", "Missing sequences")
SEQUENCE_DECISION = _local("SEQDEC", "Series used and why")
QUERY_TUMOUR = _local("QT", "Query tumour")
TUMOUR_LOCATION = _local("LOC", "Tumour location")
SUPERSEDES = _local("SUPER", "Supersedes result")
ALGORITHM_FAMILY = CodedConcept("111000", "DCM", "Algorithm Family")
ALGORITHM_FAMILY_AI = CodedConcept("123110", "DCM", "Artificial Intelligence")
ALGORITHM_NAME = CodedConcept("111001", "DCM", "Algorithm Name")
ALGORITHM_VERSION = CodedConcept("111003", "DCM", "Algorithm Version")
COMMENT = CodedConcept("121106", "DCM", "Comment")
STUDY_INSTANCE_UID = CodedConcept("110180", "DCM", "Study Instance UID")
TUMOUR_VOLUME = CodedConcept("118565006", "SCT", "Volume")
ML = CodedConcept("ml", "UCUM", "milliliter")
NO_UNITS = CodedConcept("1", "UCUM", "no units")
#: The similarity's unit: OHIF prints a NUM's unit by its code value, so ``%`` reads
#: "99.98 %" where UCUM ``1`` read as a stray "1" after the number.
PERCENT = CodedConcept("%", "UCUM", "Percent")
#: The concept name of an archive case's confirmed diagnosis (a CODE item).
DIAGNOSIS_OBSERVABLE = CodedConcept("439401001", "SCT", "Diagnosis")

#: The archive's diagnoses as SNOMED CT disorders (docs/result-codes.md says how each
#: code was checked).
DIAGNOSIS_CODES: dict[str, CodedConcept] = {
    Diagnosis.GLIOMA: CodedConcept("393564001", "SCT", "Glioma"),
    Diagnosis.MENINGIOMA: CodedConcept("302820008", "SCT", "Intracranial meningioma"),
    Diagnosis.METASTASIS: CodedConcept("94225005", "SCT", "Metastatic malignant neoplasm to brain"),
}


def similar_case(rank: int, diagnosis: str | None = None) -> CodedConcept:
    """Concept name of the container of the similar case at ``rank``."""
    meaning = f"Similar case #{rank}" + (f" ({diagnosis})" if diagnosis else "")
    return _local(f"CASE{rank}" + (f"-{diagnosis[:8].upper()}" if diagnosis else ""), meaning)


def diagnosis_code(diagnosis: str) -> CodedConcept:
    """The SNOMED CT code of an archive diagnosis; a private code for any other label
    (an archive may carry diagnoses simcase has no standard code for)."""
    known = DIAGNOSIS_CODES.get(diagnosis.strip().lower())
    if known is not None:
        return known
    return _local(f"DX-{diagnosis[:12].upper()}", diagnosis[:64] or "unknown")


def diagnosis_group(diagnosis: str) -> CodedConcept:
    """Concept name of the container grouping the most similar cases of one diagnosis."""
    return _local(f"GRP-{diagnosis[:10].upper()}", f"Most similar {diagnosis} cases")
