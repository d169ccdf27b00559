"""The header of a written MR series: patient and study (:class:`StudyInfo`), series
and equipment, and the acquisition attributes of each sequence."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydicom import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from dicom_conversion.sequences import MRSequence

__all__ = ["SEQUENCE_ATTRIBUTES", "StudyInfo", "series_template"]

# Siemens-like acquisition attributes per sequence (1.5 T/3 T brain protocol values).
SEQUENCE_ATTRIBUTES: dict[MRSequence, dict[str, Any]] = {
    MRSequence.T1: {
        "ScanningSequence": ["GR", "IR"],
        "SequenceVariant": ["SK", "SP", "MP"],
        "ScanOptions": "",
        "MRAcquisitionType": "3D",
        "RepetitionTime": 2300.0,
        "EchoTime": 2.98,
        "InversionTime": 900.0,
        "FlipAngle": 9.0,
        "EchoTrainLength": 1,
        "SequenceName": "*tfl3d1",
    },
    MRSequence.T2: {
        "ScanningSequence": "SE",
        "SequenceVariant": ["SK", "SP", "OSP"],
        "ScanOptions": "",
        "MRAcquisitionType": "2D",
        "RepetitionTime": 5000.0,
        "EchoTime": 100.0,
        "FlipAngle": 150.0,
        "EchoTrainLength": 15,
        "SequenceName": "*tse2d1_15",
    },
    MRSequence.FLAIR: {
        "ScanningSequence": ["SE", "IR"],
        "SequenceVariant": ["SK", "SP", "MP"],
        "ScanOptions": "",
        "MRAcquisitionType": "2D",
        "RepetitionTime": 9000.0,
        "EchoTime": 81.0,
        "InversionTime": 2500.0,
        "FlipAngle": 150.0,
        "EchoTrainLength": 16,
        "SequenceName": "*tir2d1_16",
    },
    MRSequence.OTHER: {
        "ScanningSequence": "RM",
        "SequenceVariant": "NONE",
        "ScanOptions": "",
        "MRAcquisitionType": "3D",
        "RepetitionTime": 0.0,
        "EchoTime": 0.0,
        "FlipAngle": 0.0,
        "EchoTrainLength": 1,
        "SequenceName": "",
    },
}
SEQUENCE_ATTRIBUTES[MRSequence.T1C] = {
    **SEQUENCE_ATTRIBUTES[MRSequence.T1],
    "ContrastBolusAgent": "Gadobutrol 0.1 mmol/kg",
    "ContrastBolusRoute": "IV",
}


@dataclass(frozen=True)
class StudyInfo:
    """Patient and study attributes shared by every series written for one study."""

    study_instance_uid: str
    patient_name: str = "Anonymous^Patient"
    patient_id: str = "ANONYMOUS"
    patient_birth_date: str = ""
    patient_sex: str = ""
    patient_age: str = ""
    study_date: str | None = None
    study_time: str | None = None
    accession_number: str = ""
    study_description: str = "MR BRAIN"
    referring_physician: str = ""
    study_id: str = "1"
    frame_of_reference_uid: str | None = None

    __module__ = "dicom_conversion"

    def frame_of_reference(self) -> str:
        """The FrameOfReferenceUID: the given one, else one derived from the study UID."""
        if self.frame_of_reference_uid:
            return self.frame_of_reference_uid
        return str(generate_uid(entropy_srcs=[self.study_instance_uid, "frame-of-reference"]))


def series_template(
    *,
    study: StudyInfo,
    sequence: MRSequence,
    series_uid: str,
    series_number: int,
    series_description: str,
    manufacturer: str,
    when: dt.datetime,
) -> Dataset:
    today = when.strftime("%Y%m%d")
    now = when.strftime("%H%M%S")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = MRImageStorage
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.InstanceCreationDate = today
    ds.InstanceCreationTime = now
    # Patient and study.
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = study.patient_birth_date
    ds.PatientSex = study.patient_sex
    if study.patient_age:
        ds.PatientAge = study.patient_age
    ds.StudyInstanceUID = study.study_instance_uid
    ds.StudyDate = study.study_date or today
    ds.StudyTime = study.study_time or now
    ds.AccessionNumber = study.accession_number
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyID = study.study_id
    ds.StudyDescription = study.study_description
    # Series and equipment.
    ds.Modality = "MR"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.ProtocolName = series_description
    ds.SeriesDate = today
    ds.SeriesTime = now
    ds.ContentDate = today
    ds.ContentTime = now
    ds.AcquisitionDate = today
    ds.AcquisitionTime = now
    ds.BodyPartExamined = "BRAIN"
    ds.PatientPosition = "HFS"
    ds.Manufacturer = manufacturer
    ds.FrameOfReferenceUID = study.frame_of_reference()
    ds.PositionReferenceIndicator = ""
    # Image pixel.
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    # MR image.
    acquisition = dict(SEQUENCE_ATTRIBUTES[sequence])
    agent = acquisition.pop("ContrastBolusAgent", None)
    route = acquisition.pop("ContrastBolusRoute", None)
    for keyword, value in acquisition.items():
        setattr(ds, keyword, value)
    ds.MagneticFieldStrength = 3.0
    ds.ImagingFrequency = 123.2
    ds.ImagedNucleus = "1H"
    ds.NumberOfAverages = 1
    if agent:
        ds.ContrastBolusAgent = agent
        ds.ContrastBolusRoute = route
    return ds
