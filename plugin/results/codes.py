"""Coded concepts used in simcase's result objects.

Standard codes (DCM, SCT, UCUM) where one fits; simcase's own concepts use the private
coding scheme ``99SIMCASE``, declared in every object that uses it.
"""

from __future__ import annotations

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept

__all__ = [
    "ALGORITHM_NAME",
    "ALGORITHM_VERSION",
    "CASE_ID",
    "CODING_SCHEME",
    "COMMENT",
    "DIAGNOSIS",
    "DISCLAIMER",
    "MISSING_SEQUENCES",
    "ML",
    "NO_UNITS",
    "QUERY_TUMOUR",
    "REPORT_TITLE",
    "RESULT",
    "SEQUENCES_USED",
    "SIMILARITY",
    "STUDY_INSTANCE_UID",
    "SUMMARY",
    "SUPERSEDES",
    "TUMOUR_LOCATION",
    "TUMOUR_VOLUME",
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
QUERY_TUMOUR = _local("QT", "Query tumour")
TUMOUR_LOCATION = _local("LOC", "Tumour location")
SUPERSEDES = _local("SUPER", "Supersedes result")
ALGORITHM_NAME = CodedConcept("111001", "DCM", "Algorithm Name")
ALGORITHM_VERSION = CodedConcept("111003", "DCM", "Algorithm Version")
COMMENT = CodedConcept("121106", "DCM", "Comment")
STUDY_INSTANCE_UID = CodedConcept("110180", "DCM", "Study Instance UID")
TUMOUR_VOLUME = CodedConcept("118565006", "SCT", "Volume")
ML = CodedConcept("ml", "UCUM", "milliliter")
NO_UNITS = CodedConcept("1", "UCUM", "no units")


def similar_case(rank: int, diagnosis: str | None = None) -> CodedConcept:
    """Concept name of the container of the similar case at ``rank``."""
    meaning = f"Similar case #{rank}" + (f" ({diagnosis})" if diagnosis else "")
    return _local(f"CASE{rank}" + (f"-{diagnosis[:8].upper()}" if diagnosis else ""), meaning)


def diagnosis_group(diagnosis: str) -> CodedConcept:
    """Concept name of the container grouping the most similar cases of one diagnosis."""
    return _local(f"GRP-{diagnosis[:10].upper()}", f"Most similar {diagnosis} cases")
