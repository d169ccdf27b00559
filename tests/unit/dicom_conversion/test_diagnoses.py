"""The Diagnosis enum compares, hashes and serialises as its plain string."""

from __future__ import annotations

import json

from dicom_conversion import Diagnosis


def test_members_are_their_strings() -> None:
    assert Diagnosis.labels() == ("glioma", "meningioma", "metastasis")
    assert all(type(label) is str for label in Diagnosis.labels())
    assert Diagnosis("meningioma") is Diagnosis.MENINGIOMA
    assert Diagnosis.GLIOMA == "glioma"
    assert {Diagnosis.METASTASIS: 1}["metastasis"] == 1
    assert f"{Diagnosis.GLIOMA}" == "glioma"
    assert json.dumps({Diagnosis.GLIOMA: [Diagnosis.METASTASIS]}) == '{"glioma": ["metastasis"]}'
