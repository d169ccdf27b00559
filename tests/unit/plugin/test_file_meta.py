"""The hand-encoded file header equals pynetdicom's (pydicom's) encoding."""

from __future__ import annotations

import io

from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage
from pynetdicom.dsutils import create_file_meta, encode, encode_file_meta

from plugin.dicom.file_meta import file_header
from tests.unit.plugin.samples import mr_series


def test_same_bytes_as_pynetdicom() -> None:
    for sop_uid in ("1.2.3.4", "1.2.3.45"):  # odd and even lengths
        for syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            meta = create_file_meta(
                sop_class_uid=MRImageStorage, sop_instance_uid=sop_uid, transfer_syntax=syntax
            )
            expected = b"\x00" * 128 + b"DICM" + encode_file_meta(meta)
            assert file_header(MRImageStorage, sop_uid, syntax) == expected


def test_header_plus_dataset_is_a_readable_file() -> None:
    ds = mr_series(1)[0]
    body = encode(ds, False, True)  # the data set only, as a C-STORE carries it
    read = dcmread(
        io.BytesIO(file_header(ds.SOPClassUID, ds.SOPInstanceUID, ExplicitVRLittleEndian) + body)
    )
    assert read.SOPInstanceUID == ds.SOPInstanceUID
    assert read.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
