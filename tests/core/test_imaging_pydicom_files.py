"""Real-world DICOM shipped inside the pydicom wheel (only names present in its test_files
folder: any other name makes get_testdata_file try the network)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames
from pydicom.pixels import apply_color_lut

from core.errors import ImageReadError
from core.imaging import probe_file, read_image

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def wheel_file(name: str) -> Path:
    path = Path(get_testdata_file(name))
    assert path.is_file(), name
    return path


def read_first(name: str):
    return read_image(probe_file(wheel_file(name))[0])


def test_examples_ybr_color_is_a_30_frame_cine_with_true_colours():
    path = wheel_file("examples_ybr_color.dcm")
    refs = probe_file(path)
    assert len(refs) == 30 and [r.frame for r in refs] == list(range(30))
    assert refs[0].modality == "US"
    image = read_image(refs[0])
    assert image.pixels.shape == (240, 320, 3) and image.pixels.dtype == np.uint8
    # Known-good route: Pillow decodes the JPEG codestream itself (YCbCr -> RGB from JFIF).
    ds = pydicom.dcmread(path)
    codestream = next(generate_frames(ds.PixelData, number_of_frames=30))
    reference = np.asarray(Image.open(io.BytesIO(codestream)).convert("RGB"), dtype=np.int16)
    diff = np.abs(image.pixels.astype(np.int16) - reference)
    assert diff.mean() < 2.0 and np.percentile(diff, 99) <= 8
    assert image.frame_time_ms == pytest.approx(33.333, abs=1e-3)
    assert image.region == (84, 31, 320, 240)  # region 84..595 x 31..414, clipped to 320x240
    assert image.warning is None


def test_examples_ybr_color_last_frame_decodes():
    refs = probe_file(wheel_file("examples_ybr_color.dcm"))
    assert read_image(refs[29]).pixels.shape == (240, 320, 3)


@pytest.mark.parametrize(
    "name", ["examples_rgb_color.dcm", "ExplVR_BigEnd.dcm", "examples_jpeg2k.dcm"]
)
def test_rgb_files_match_pydicom_exactly(name):
    image = read_first(name)
    expected = pydicom.dcmread(wheel_file(name)).pixel_array
    np.testing.assert_array_equal(image.pixels, expected)
    assert image.modality == "US" and image.warning is None


def test_examples_palette_applies_the_lut_and_region():
    image = read_first("examples_palette.dcm")
    ds = pydicom.dcmread(wheel_file("examples_palette.dcm"))
    expected = apply_color_lut(ds.pixel_array, ds)
    expected = (
        (expected / 257.0).round().astype(np.uint8) if expected.dtype != np.uint8 else expected
    )
    assert np.abs(image.pixels.astype(int) - expected).max() <= 1
    assert len(np.unique(image.pixels.reshape(-1, 3), axis=0)) > 10  # really coloured
    assert image.region == (120, 60, 800, 350)


def test_ct_small_is_read_but_flagged_out_of_scope():
    image = read_first("CT_small.dcm")
    assert image.modality == "CT" and not image.in_scope
    assert image.warning == "modality CT is out of scope for this model (ultrasound only)"
    assert np.array_equal(image.pixels[:, :, 0], image.pixels[:, :, 1])
    assert image.pixels.min() == 0 and image.pixels.max() == 255  # no window: min-max


@pytest.mark.parametrize(
    "name",
    ["MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm",
     "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"],
)  # fmt: skip
def test_mr_small_in_every_lossless_syntax_matches_the_uncompressed_file(name):
    reference = read_first("MR_small.dcm").pixels
    np.testing.assert_array_equal(read_first(name).pixels, reference)


@pytest.mark.parametrize(
    "name",
    ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb_dcmtk_+eb+cy+n1.dcm",
     "SC_rgb_dcmtk_+eb+cy+n2.dcm", "SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm",
     "SC_rgb_dcmtk_+eb+cy+s4.dcm", "SC_rgb_jpeg_gdcm.dcm", "SC_ybr_full_422_uncompressed.dcm",
     "SC_rgb_rle_16bit.dcm", "SC_rgb_gdcm_KY.dcm"],
)  # fmt: skip
def test_colour_variants_match_the_lossless_reference(name):
    """JPEG baseline (YBR_FULL, YBR_FULL_422, RGB), JPEG lossless, YBR_FULL_422 native,
    16-bit RLE and JPEG 2000 versions of one colour-bar image, against the 8-bit RLE file."""
    reference = read_first("SC_rgb_rle.dcm").pixels.astype(int)
    pixels = read_first(name).pixels.astype(int)
    assert np.abs(pixels - reference).mean() < 4.0, name  # a YBR mix-up gives > 40


@pytest.mark.parametrize(
    ("name", "shape"),
    [("JPGExtended.dcm", (1024, 256, 3)), ("JPEGLSNearLossless_16.dcm", (50, 10, 3)),
     ("image_dfl.dcm", (512, 512, 3)), ("JPEG2000.dcm", (1024, 256, 3))],
)  # fmt: skip
def test_other_syntaxes_decode(name, shape):
    """12-bit JPEG Extended, 16-bit JPEG-LS near-lossless, deflated, 16-bit JPEG 2000."""
    pixels = read_first(name).pixels
    assert pixels.shape == shape and pixels.max() > pixels.min()


def test_jpeg_lossy_12bit_gives_a_clear_decoder_error():
    with pytest.raises(ImageReadError) as info:
        read_first("JPEG-lossy.dcm")
    reason = info.value.reason
    assert "JPEG Extended" in reason and "cannot decode" in reason
    assert "Traceback" not in reason


def test_rtplan_has_no_pixels():
    with pytest.raises(ImageReadError, match=r"without pixel data \(RT Plan Storage"):
        probe_file(wheel_file("rtplan.dcm"))


def test_mr_truncated_is_refused_from_the_header():
    with pytest.raises(ImageReadError, match="truncated DICOM file: pixel data needs 8192 bytes"):
        probe_file(wheel_file("MR_truncated.dcm"))
