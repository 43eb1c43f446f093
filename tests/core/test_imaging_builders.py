"""The test-file builders in tests/support/dicom_files.py build what the tests assume."""

import struct
import zlib

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit

from tests.support.dicom_files import colour_patches, huge_png_header, write_dicom


def test_write_dicom_round_trips_through_pydicom(tmp_path):
    rgb = colour_patches()
    path = write_dicom(tmp_path / "rgb.dcm", rgb, "RGB")
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    np.testing.assert_array_equal(ds.pixel_array, rgb)


def test_jpeg_baseline_builder_writes_ybr_full_422(tmp_path):
    path = write_dicom(tmp_path / "jpg.dcm", colour_patches(), "RGB", syntax=JPEGBaseline8Bit)
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit


def test_huge_png_header_has_valid_crc():
    data = huge_png_header()
    (crc,) = struct.unpack(">I", data[29:33])
    assert crc == zlib.crc32(data[12:29])
