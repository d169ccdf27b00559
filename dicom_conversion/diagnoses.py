"""The diagnoses simcase's archive is labelled with."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Diagnosis"]


class Diagnosis(StrEnum):
    """A confirmed diagnosis of an archive case.

    A ``str`` enum: a member equals, hashes and serialises (``json``, f-strings) as its
    value, so ``Diagnosis.GLIOMA == "glioma"``. The class order is the label order of
    every classifier simcase trains (:meth:`labels`). Pass ``.value`` to psycopg, which
    dumps an :class:`~enum.Enum` by its name.
    """

    GLIOMA = "glioma"
    MENINGIOMA = "meningioma"
    METASTASIS = "metastasis"

    __module__ = "dicom_conversion"

    @classmethod
    def labels(cls) -> tuple[str, ...]:
        """The values as plain strings, in class order: a classifier's label order."""
        return tuple(member.value for member in cls)
