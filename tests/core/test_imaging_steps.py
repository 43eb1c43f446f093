"""The small pure pixel steps, one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import convert_color_space
from pydicom.tag import Tag

from core.errors import ImageReadError
from core.imaging.dicom_header import (
    expected_pixel_bytes,
    number_of_frames,
    parse_pixel_element,
)
from core.imaging.dicom_info import frame_time_ms, modality_warning, ultrasound_region
from core.imaging.dicom_pixels import (
    apply_voi_window,
    grey_to_unit,
    invert_monochrome1,
    to_display_rgb,
)
from core.imaging.raster import header_dimensions
from core.imaging.scaling import composite_on_black, minmax_to_unit
from tests.support.dicom_files import colour_patches, huge_png_header, region_item


def test_linear_window_follows_the_standard():
    # PS3.3 C.11.2.1.2.1: c=2048, w=4096 maps 0 -> 0 and 4095 -> 1
    out = apply_voi_window(np.array([0, 2048, 4095, 5000]), 2048, 4096)
    assert out[0] == 0.0 and out[2] == pytest.approx(1.0) and out[3] == 1.0
    assert out[1] == pytest.approx(0.5, abs=1e-3)


def test_linear_exact_and_sigmoid_windows():
    x = np.array([0.0, 50.0, 100.0])
    np.testing.assert_allclose(apply_voi_window(x, 50, 100, "LINEAR_EXACT"), [0.0, 0.5, 1.0])
    sig = apply_voi_window(x, 50, 100, "SIGMOID")
    assert sig[1] == pytest.approx(0.5) and 0 < sig[0] < 0.2 and 0.8 < sig[2] < 1


def test_window_of_width_one_is_a_threshold():
    out = apply_voi_window(np.array([9, 10, 11]), 10.5, 1)
    assert list(out) == [0.0, 0.0, 1.0]


def test_minmax_and_monochrome1():
    unit = minmax_to_unit(np.array([[10, 20], [30, 10]], np.int16))
    np.testing.assert_allclose(unit, [[0, 0.5], [1, 0]])
    np.testing.assert_allclose(invert_monochrome1(unit), [[1, 0.5], [0, 1]])
    assert np.all(minmax_to_unit(np.full((2, 2), 7)) == 0)


def test_composite_on_black():
    rgb = np.full((1, 2, 3), 200, np.uint8)
    out = composite_on_black(rgb, np.array([[255, 0]], np.uint8))
    assert out[0, 0].tolist() == [200] * 3 and out[0, 1].tolist() == [0] * 3


def test_ybr_is_converted_only_when_the_decoder_has_not():
    rgb = colour_patches()
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    ds = Dataset()
    still_ybr = to_display_rgb(Path("x"), ybr, ds, {"photometric_interpretation": "YBR_FULL"})
    assert np.abs(still_ybr.astype(int) - rgb).max() <= 2
    already_rgb = to_display_rgb(Path("x"), rgb, ds, {"photometric_interpretation": "RGB"})
    np.testing.assert_array_equal(already_rgb, rgb)


def test_16bit_rgb_is_scaled_by_bits_stored():
    arr = np.array([[[0, 2048, 4095]]], np.uint16)
    out = to_display_rgb(
        Path("x"), arr, Dataset(), {"photometric_interpretation": "RGB", "bits_stored": 12}
    )
    assert out[0, 0].tolist() == [0, 128, 255]


def test_expected_pixel_bytes():
    assert expected_pixel_bytes(10, 10, 1, 1, 8, "MONOCHROME2") == 100
    assert expected_pixel_bytes(10, 10, 2, 3, 8, "RGB") == 600
    assert expected_pixel_bytes(10, 10, 1, 3, 8, "YBR_FULL_422") == 200
    assert expected_pixel_bytes(10, 10, 1, 1, 16, "MONOCHROME1") == 200
    assert expected_pixel_bytes(3, 3, 1, 1, 1, "MONOCHROME2") == 2
    assert expected_pixel_bytes(10, 10, 3, 3, 16, "YBR_FULL_422") == 1200


@pytest.mark.parametrize(
    ("raw", "frames"), [(None, 1), (b"", 1), (b"0 ", 1), (b"-3", 1), (b"12", 12)]
)
def test_number_of_frames_absent_zero_or_negative_is_one(raw, frames):
    ds = Dataset()
    if raw is not None:
        ds[0x00280008] = RawDataElement(Tag(0x00280008), "IS", len(raw), raw, 0, False, True)
    assert number_of_frames(Path("x.dcm"), ds) == frames


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")  # pydicom reading 'abc'
def test_number_of_frames_that_is_not_a_number_is_refused():
    ds = Dataset()
    ds[0x00280008] = RawDataElement(Tag(0x00280008), "IS", 4, b"abc ", 0, False, True)
    with pytest.raises(ImageReadError, match="invalid NumberOfFrames 'abc'"):
        number_of_frames(Path("x.dcm"), ds)


def test_parse_pixel_element_explicit_implicit_and_big_endian():
    explicit = bytes.fromhex("e07f1000") + b"OB\x00\x00" + (100).to_bytes(4, "little")
    assert parse_pixel_element(explicit, little_endian=True) == ("PixelData", "OB", 100)
    implicit = bytes.fromhex("e07f1000") + (0xFFFFFFFF).to_bytes(4, "little") + b"\xfe\xff"
    assert parse_pixel_element(implicit, little_endian=True) == ("PixelData", None, None)
    big = bytes.fromhex("7fe00010") + b"OW\x00\x00" + (8).to_bytes(4, "big")
    assert parse_pixel_element(big, little_endian=False) == ("PixelData", "OW", 8)
    other = bytes.fromhex("08006000") + b"CS\x02\x00US"
    assert parse_pixel_element(other, little_endian=True) == (None, None, None)


def test_frame_time_sources():
    ds = Dataset()
    assert frame_time_ms(ds) is None
    ds.RecommendedDisplayFrameRate = 20
    assert frame_time_ms(ds) == pytest.approx(50.0)
    ds.CineRate = 25
    assert frame_time_ms(ds) == pytest.approx(40.0)
    ds.FrameTimeVector = [0, 30, 34]
    assert frame_time_ms(ds) == pytest.approx(32.0)
    ds.FrameTime = 16.7
    assert frame_time_ms(ds) == pytest.approx(16.7)


def test_region_rules():
    ds = Dataset()
    assert ultrasound_region(ds, 100, 100) is None
    ds.SequenceOfUltrasoundRegions = [region_item(200, 200, 300, 300)]
    assert ultrasound_region(ds, 100, 100) is None  # entirely outside the image
    ds.SequenceOfUltrasoundRegions = [region_item(10, 10, 19, 19, data_type=3)]
    assert ultrasound_region(ds, 100, 100) == (10, 10, 20, 20)


def test_modality_warning():
    assert modality_warning("US") is None and modality_warning("OT") is None
    assert modality_warning(None) is None
    assert modality_warning("MR") == "modality MR is out of scope for this model (ultrasound only)"


def test_header_dimensions():
    assert header_dimensions(huge_png_header(123, 456), "PNG") == (123, 456)
    assert header_dimensions(b"\x89PNG", "PNG") is None


def test_low_bit_grey_uses_its_full_range():
    bits1 = grey_to_unit(np.array([[0, 1]], np.uint8), Dataset(), bits_stored=1)
    assert bits1.tolist() == [[0.0, 1.0]]
    bits8 = grey_to_unit(np.array([[0, 51, 255]], np.uint8), Dataset(), bits_stored=8)
    np.testing.assert_allclose(bits8, [[0.0, 0.2, 1.0]])
