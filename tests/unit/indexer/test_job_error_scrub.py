"""The job error text is scrubbed of paths, file names and DICOM person names whatever
the raising code put in its message (issue 15); UIDs, numbers and words stay."""

from __future__ import annotations

import pytest

from dicom_conversion import ConversionError, UnreadableFileError
from dicom_conversion.log_refs import name_ref, scrub_names
from indexer.jobs import readable_error

#: A message and the part of it that becomes a ``ref:``.
SCRUBBED = [
    ("cannot read /archive/DOE^JOHN/DOE JOHN 1.dcm: truncated", "/archive/DOE^JOHN/DOE JOHN 1.dcm"),
    (
        "[Errno 2] No such file or directory: '/tmp/Smith John/x y.nii.gz'",
        "'/tmp/Smith John/x y.nii.gz'",
    ),
    (r"cannot open C:\PACS\Doe John\1.dcm, skipped", r"C:\PACS\Doe John\1.dcm"),
    ("file DOE_JOHN.dcm is empty", "DOE_JOHN.dcm"),
    ("patient DOE^JANE^^^ (1.2.3)", "DOE^JANE^^^"),
    ("no PACS at http://127.0.0.1:8042/dicom-web/studies: refused", "/dicom-web/studies"),
]

KEPT = [
    "series 1.2.840.113619.2.55.3 has no pixel data (Rows=0)",
    "3 of 12 instances; spacing 0.5 mm differs by 1.5e-3",
    "no archive case 'case-0042'",
    "",
]


@pytest.mark.parametrize(("message", "name"), SCRUBBED)
def test_paths_file_names_and_person_names_become_refs(message: str, name: str) -> None:
    assert scrub_names(message) == message.replace(name, name_ref(name))


@pytest.mark.parametrize("message", KEPT)
def test_uids_numbers_and_words_are_kept(message: str) -> None:
    assert scrub_names(message) == message


def test_the_job_error_text_of_any_exception_is_scrubbed() -> None:
    path = "/srv/in/ZZPHI^SENTINEL/ZZPHI SENTINEL 0001.dcm"
    own = readable_error(UnreadableFileError(f"cannot read {path}: truncated at byte 12"))
    assert own == f"UnreadableFileError: cannot read {name_ref(path)}: truncated at byte 12"
    foreign = readable_error(FileNotFoundError(2, "No such file or directory", path))
    assert foreign.startswith("internal error (FileNotFoundError): [Errno 2] No such file")
    base = readable_error(ConversionError(f"{path}\n{path}"))
    for text in (own, foreign, base):
        assert "ZZPHI" not in text and "SENTINEL" not in text and "/srv" not in text
