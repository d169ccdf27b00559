"""Small, valid DICOM test objects built with pydicom (no files needed)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

__all__ = ["mr_series"]


def mr_series(
    n: int = 4,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    rows: int = 16,
    columns: int = 16,
    series_number: int = 1,
    description: str = "AX T1",
    frame_of_reference_uid: str | None = None,
    seed: int = 0,
) -> list[Dataset]:
    """An axial MR series of ``n`` slices (1 mm, ``rows`` x ``columns``), uint16 pixels."""
    rng = np.random.default_rng(seed)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = frame_of_reference_uid or generate_uid()
    now = dt.datetime(2026, 1, 2, 10, 11, 12)
    out = []
    for i in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        sop_uid = generate_uid()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.PatientName = "Test^Query"
        ds.PatientID = "QP-0001"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "F"
        ds.StudyDate = now.strftime("%Y%m%d")
        ds.StudyTime = now.strftime("%H%M%S")
        ds.SeriesDate = ds.StudyDate
        ds.SeriesTime = ds.StudyTime
        ds.AccessionNumber = "ACC0001"
        ds.StudyID = "1"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = "MRI BRAIN"
        ds.Modality = "MR"
        ds.Manufacturer = "TestVendor"
        ds.SeriesNumber = series_number
        ds.SeriesDescription = description
        ds.InstanceNumber = i + 1
        ds.PositionReferenceIndicator = ""
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.EchoTime = 10
        ds.RepetitionTime = 500
        ds.EchoTrainLength = 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.ImagePositionPatient = [0.0, 0.0, float(i)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 1.0
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = rng.integers(0, 1000, (rows, columns), dtype=np.uint16).tobytes()
        out.append(ds)
    return out
