"""A T1/T1C swap changes the diagnosis; swapped descriptions no longer do.

A synthetic meningioma (corpus 2, case 0, 2 mm) is exported as a DICOM study the way
``simcase synth --dicom`` writes it, then the SeriesDescription and ProtocolName of its
T1 and T1C series are exchanged. The shipped segmenter and the shipped embedder's signs
head (the diagnosis probabilities inside the embedding) read the loaded study. The
inputs the descriptions alone gave before the change (the probe in docs/reliability.md
section 23: T1 and T1C exchanged when no series carries an agent; the native series
taken as T1C and T1 missing when the T1C carries one) are shown to change the diagnosis.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import pytest
import torch
from pydicom import Dataset

from dicom_conversion import MRSequence, StudyVolumes, load_study
from models.embedder import TorchEmbedder
from models.segmenter import OnnxSegmenter
from models.signs import tumour_signs
from models.study_arrays import normalised_channels
from models.synth import generate_case, plan_case
from models.synth.dicom_export import case_datasets

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class SignsDiagnosis:
    """Shipped segmenter -> tumour signs -> the shipped signs head's class probabilities."""

    def __init__(self) -> None:
        self.segmenter = OnnxSegmenter.load(threads=1)
        head = TorchEmbedder.load().net.signs
        assert head is not None, "the shipped embedder has no signs head"
        self.head = head

    def __call__(self, study: StudyVolumes) -> dict[str, float]:
        channels = normalised_channels(study)
        mask = self.segmenter.segment(study, channels=channels)
        signs = torch.from_numpy(tumour_signs(channels, mask, study.affine)[None])
        z = (signs.float() - self.head.mean) / self.head.scale
        probabilities = torch.softmax(z @ self.head.coef.T + self.head.intercept, dim=1)[0]
        return dict(zip(self.head.classes, probabilities.tolist(), strict=True))


@pytest.fixture(scope="module")
def diagnose() -> SignsDiagnosis:
    return SignsDiagnosis()


@pytest.fixture(scope="module")
def meningioma() -> tuple[str, list[Dataset]]:
    case = generate_case(2, 0, resolution_mm=2.0)
    instances, _seg = case_datasets(case, plan_case(2, 0))
    return case.diagnosis, instances


def swap_descriptions(instances: list[Dataset], *, agent: bool) -> list[Dataset]:
    words = {1: None, 2: None}
    for ds in instances:
        if int(ds.SeriesNumber) in words:
            words[int(ds.SeriesNumber)] = ds.SeriesDescription
    out = []
    for ds in instances:
        copy = deepcopy(ds)
        number = int(copy.SeriesNumber)
        if number in words:
            copy.SeriesDescription = copy.ProtocolName = words[3 - number]
        if not agent and "ContrastBolusAgent" in copy:
            del copy.ContrastBolusAgent
        out.append(copy)
    return out


def top(probabilities: dict[str, float]) -> str:
    return max(probabilities, key=probabilities.__getitem__)


@pytest.mark.parametrize("agent", [True, False])
def test_swapped_descriptions_keep_the_diagnosis(
    diagnose: SignsDiagnosis, meningioma: tuple[str, list[Dataset]], agent: bool
) -> None:
    truth, instances = meningioma
    honest = load_study(instances)
    swapped = load_study(swap_descriptions(instances, agent=agent))
    numbers = {str(ds.SeriesInstanceUID): int(ds.SeriesNumber) for ds in instances}
    decided = {numbers[d.series_instance_uid]: d for d in swapped.decisions}
    # Series 1 is the native T1, series 2 the T1C (MRSequence.ordered()), now mis-described.
    assert decided[1].contrast_by_description is True  # the native series says post
    assert (decided[1].sequence, decided[2].sequence) == (MRSequence.T1, MRSequence.T1C)
    assert decided[2].contrast_rule == "images"
    np.testing.assert_array_equal(swapped.stacked(), honest.stacked())
    assert top(diagnose(honest)) == truth == "meningioma"
    assert top(diagnose(swapped)) == truth

    # What the words alone handed to the models before the change changes the diagnosis.
    arrays = honest.arrays
    if agent:  # the native series taken as T1C, the enhancing one dropped, T1 missing
        fooled = {MRSequence.T1C: arrays[MRSequence.T1]}
    else:  # T1 and T1C exchanged
        fooled = {MRSequence.T1: arrays[MRSequence.T1C], MRSequence.T1C: arrays[MRSequence.T1]}
    for sequence in (MRSequence.T2, MRSequence.FLAIR):
        fooled[sequence] = arrays[sequence]
    fooled_study = StudyVolumes(arrays=fooled, affine=honest.affine)
    probabilities = diagnose(fooled_study)
    assert top(probabilities) != truth, probabilities
