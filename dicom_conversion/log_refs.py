"""What a log line may say about a name that came from outside.

A file name, a folder or an archive's case id may carry a patient's name or ID, so logs
never quote them: they name a file by its position ("file 3 of 12") and anything else by
a short hash that tells two names apart without revealing either.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["name_ref", "position", "scrub_names"]


def name_ref(name: object) -> str:
    """A short stable stand-in for ``name``: ``ref:`` and 10 hex digits of its SHA-256."""
    return "ref:" + hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:10]


def position(index: int, total: int) -> str:
    """``file 3 of 12`` for the zero-based ``index`` of ``total`` files."""
    return f"file {index + 1} of {total}"


#: What :func:`scrub_names` replaces, first match wins (a URL's scheme and host are
#: kept, its path is not): a quoted string holding a path
#: separator or a DICOM person name's ``^`` (``'/archive/DOE JOHN/1.dcm'``, spaces and
#: all); an unquoted path, from its first separator up to a quote, bracket, comma,
#: semicolon, colon or the end of the line (``/archive/DOE JOHN/t1.nii.gz``; a
#: Windows drive letter and ``~``, ``.`` or ``..`` before it included); a file name
#: (a word ending in a file extension of the formats simcase reads or writes); a DICOM
#: person name (a word with a ``^``).
_SEPARATOR_FREE = r"""[^\s'"()\[\]{},;:]"""
_EXTENSIONS = (
    r"(?:dcm|dicom|ima|nii(?:\.gz)?|gz|zip|tar|csv|tsv|json|txt|png|jpe?g|npy|npz|pt|toml)"
)
_NAME_LIKE = re.compile(
    "|".join(
        (
            r"""(?P<origin>\b[a-z][a-z0-9+.-]*://[^\s/'"]*)""",
            r"'[^'\n]*[/\\^][^'\n]*'",
            r'"[^"\n]*[/\\^][^"\n]*"',
            r"""(?:\b[A-Za-z]:|~|\.{1,2})?[/\\][^'"()\[\]{},;:\n]*""",
            rf"{_SEPARATOR_FREE}+\.{_EXTENSIONS}\b",
            rf"{_SEPARATOR_FREE}*\^{_SEPARATOR_FREE}*",
        )
    ),
    re.IGNORECASE,
)


def scrub_names(text: str) -> str:
    """``text`` with every path, file name and DICOM person name in it replaced by its
    :func:`name_ref`: for an error message that may quote a file it was given
    (``cannot read /archive/DOE^JOHN/1.dcm: truncated`` becomes ``cannot read
    ref:...: truncated``). UIDs, numbers and words are kept; a name written as plain
    words (no separator, extension or ``^``) cannot be told from them and is kept too."""
    return _NAME_LIKE.sub(lambda m: m.group("origin") or name_ref(m.group(0)), text)
