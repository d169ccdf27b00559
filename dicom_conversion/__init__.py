"""DICOM series to volumes and back: pure data in, data out.

The lowest layer of simcase. It imports none of ``models``, ``indexer`` or
``plugin``, never reads environment variables and never touches the network.

Canonical array convention (every layer above relies on it): arrays indexed
(X, Y, Z) with a 4x4 affine to RAS+ millimetres, in nibabel's closest canonical
orientation (i to the patient's right, j anterior, k superior). DICOM volumes
(highdicom, LPS) are converted by :func:`load_study` / :meth:`SeriesVolume.canonical`.
"""

from dicom_conversion.diagnoses import Diagnosis
from dicom_conversion.errors import (
    ConflictingDuplicateSliceError,
    ConversionError,
    CorruptDatasetError,
    FrameOfReferenceMismatchError,
    InconsistentSpacingError,
    MissingSliceError,
    MixedOrientationError,
    MixedSeriesError,
    MixedSizeError,
    NiftiError,
    NotAnImageError,
    NoUsableSeriesError,
    PixelDataError,
    SegmentationError,
    UnreadableFileError,
)
from dicom_conversion.files import FolderContents, read_dicom_file, read_dicom_folder
from dicom_conversion.folder_conversion import FolderConversion, convert_folder
from dicom_conversion.header_evidence import contrast_attributes, header_view
from dicom_conversion.image_recognition import classify_by_image, post_contrast_score
from dicom_conversion.mr_writing import StudyInfo, save_series, write_mr_series
from dicom_conversion.nifti import (
    read_brats_case,
    read_nifti,
    read_series_nifti,
    write_brats_case,
    write_nifti,
    write_series_nifti,
)
from dicom_conversion.orientation import affine_lps_to_ras, affine_ras_to_lps, to_canonical
from dicom_conversion.recognition import recognise_series
from dicom_conversion.recognition_rules import DescriptionRule, RecognitionRules
from dicom_conversion.resampling import resample_to_grid
from dicom_conversion.seg import (
    TUMOUR_REGIONS,
    TumourRegion,
    check_source_frames,
    read_seg,
    write_seg,
)
from dicom_conversion.sequences import MRSequence, SequenceDecision
from dicom_conversion.series_loading import load_series
from dicom_conversion.study_loading import load_study
from dicom_conversion.volumes import SeriesVolume, StudyVolumes

__all__ = [
    "TUMOUR_REGIONS",
    "ConflictingDuplicateSliceError",
    "ConversionError",
    "CorruptDatasetError",
    "DescriptionRule",
    "Diagnosis",
    "FolderContents",
    "FolderConversion",
    "FrameOfReferenceMismatchError",
    "InconsistentSpacingError",
    "MRSequence",
    "MissingSliceError",
    "MixedOrientationError",
    "MixedSeriesError",
    "MixedSizeError",
    "NiftiError",
    "NoUsableSeriesError",
    "NotAnImageError",
    "PixelDataError",
    "RecognitionRules",
    "SegmentationError",
    "SequenceDecision",
    "SeriesVolume",
    "StudyInfo",
    "StudyVolumes",
    "TumourRegion",
    "UnreadableFileError",
    "affine_lps_to_ras",
    "affine_ras_to_lps",
    "check_source_frames",
    "classify_by_image",
    "contrast_attributes",
    "convert_folder",
    "header_view",
    "load_series",
    "load_study",
    "post_contrast_score",
    "read_brats_case",
    "read_dicom_file",
    "read_dicom_folder",
    "read_nifti",
    "read_seg",
    "read_series_nifti",
    "recognise_series",
    "resample_to_grid",
    "save_series",
    "to_canonical",
    "write_brats_case",
    "write_mr_series",
    "write_nifti",
    "write_seg",
    "write_series_nifti",
]
