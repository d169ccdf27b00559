"""atheris harness over the path an incoming instance takes: read the file
(:func:`dicom_conversion.files.read_dicom_file`: the fast little-endian reader, else
pydicom), screen it (:func:`plugin.dicom.instance_checks.instance_problem`, then
``repair_dates`` and ``fill_study_attributes`` as the worker does), and build a volume
of it with a valid second slice of its series (:func:`dicom_conversion.load_series`).

Allowed outcomes: :class:`~dicom_conversion.errors.UnreadableFileError` from reading,
a problem named by ``instance_problem`` (which never raises), a
:class:`~dicom_conversion.ConversionError` from loading. Anything else raised is a
finding (atheris stops and writes the input as ``crash-*``); so is a run over
``-timeout`` seconds (a hang) or over ``-rss_limit_mb`` (a huge allocation).

The check itself is :func:`tests.fuzz.instance_check.check_instance` (the regression
tests replay their inputs through it). Run (from the repository root)::

    PYTHONPATH=. .venv/bin/python -m tests.fuzz.instance_reading \\
        -atheris_runs=200000 -max_total_time=300 -timeout=10 -rss_limit_mb=2048 \\
        -max_len=8192 <corpus folder>

The corpus folder is seeded with a valid generated MR instance (16 x 16, uint16,
Explicit VR Little Endian) when empty.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

#: Instrumented for coverage feedback: the reading path (not pydicom's data
#: dictionaries, which take minutes to instrument and hold no branches).
INCLUDE = ["dicom_conversion", "plugin.dicom.instance_checks", "plugin.dicom.uids", "pydicom"]
EXCLUDE = ["pydicom._dicom_dict", "pydicom._private_dict", "pydicom._uid_dict", "pydicom.sr"]

#: Set (to anything) for a smoke run: no instrumentation, so it starts in seconds
#: instead of a minute or more; atheris still mutates, without coverage feedback.
NO_INSTRUMENT = "SIMCASE_FUZZ_NO_INSTRUMENT"

_instrumented = (
    contextlib.nullcontext()
    if os.environ.get(NO_INSTRUMENT)
    else atheris.instrument_imports(include=INCLUDE, exclude=EXCLUDE)
)
with _instrumented:
    from tests.fuzz.instance_check import check_instance, second_slice, seed_instances

__all__ = ["NO_INSTRUMENT", "main"]


def main() -> None:
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    for folder in corpus:
        os.makedirs(folder, exist_ok=True)
        if not os.listdir(folder):
            Path(folder, "seed-mr.dcm").write_bytes(seed_instances()[0])
    seed_instances()
    second_slice()
    folder = tempfile.mkdtemp(prefix="simcase-fuzz-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # atheris.Fuzz() exits
    scratch = Path(folder) / "instance.dcm"

    def one_input(data: bytes) -> None:
        check_instance(data, scratch)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
