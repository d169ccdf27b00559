"""The DICOM side of simcase: listener (C-ECHO, C-STORE), spool, study-complete detection."""

from plugin.dicom.journal import InstanceJournal, MemoryJournal, PostgresJournal
from plugin.dicom.listener import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_OUT_OF_RESOURCES,
    DicomListener,
)
from plugin.dicom.spool import Spool
from plugin.dicom.study_tracker import StudyTracker
from plugin.errors import ListenerError

__all__ = [
    "STATUS_CANNOT_UNDERSTAND",
    "STATUS_OUT_OF_RESOURCES",
    "DicomListener",
    "InstanceJournal",
    "ListenerError",
    "MemoryJournal",
    "PostgresJournal",
    "Spool",
    "StudyTracker",
]
