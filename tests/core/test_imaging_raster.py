"""PNG / JPEG / BMP / TIFF, including the odd-but-valid ones."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.imaging import is_candidate, probe_file, read_image
from tests.support.dicom_files import colour_patches, patch_centres


def read(path):
    refs = probe_file(path)
    assert len(refs) == 1 and refs[0].frame is None and refs[0].modality is None
    return read_image(refs[0])


@pytest.mark.parametrize("ext", ["png", "bmp", "tif"])
def test_lossless_rgb_formats_are_exact(tmp_path, ext):
    rgb = colour_patches()
    path = tmp_path / f"x.{ext}"
    Image.fromarray(rgb).save(path)
    image = read(path)
    np.testing.assert_array_equal(image.pixels, rgb)
    assert image.region is None and image.header == {} and image.warning is None


def test_jpeg_rgb_is_close(tmp_path):
    path = tmp_path / "x.jpg"
    Image.fromarray(colour_patches()).save(path, quality=95)
    pixels = read(path).pixels
    for row, col, expected in patch_centres():
        assert np.abs(pixels[row, col].astype(int) - expected).max() <= 10


def test_raster_patient_id_is_the_parent_folder(tmp_path):
    folder = tmp_path / "patient_A"
    folder.mkdir()
    Image.new("L", (4, 4)).save(folder / "a.png")
    assert probe_file(folder / "a.png")[0].patient_id == "patient_A"


def test_grey_png_is_repeated_to_rgb(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    Image.fromarray(grey).save(tmp_path / "g.png")
    pixels = read(tmp_path / "g.png").pixels
    assert pixels.shape == (8, 8, 3)
    for channel in range(3):
        np.testing.assert_array_equal(pixels[:, :, channel], grey)


def test_16bit_png_is_min_max_scaled(tmp_path):
    values = np.linspace(1000, 50000, 64).reshape(8, 8).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    pixels = read(tmp_path / "g16.png").pixels[:, :, 0]
    assert pixels.min() == 0 and pixels.max() == 255
    expected = np.rint((values - 1000.0) / 49000.0 * 255)
    assert np.abs(pixels - expected).max() <= 1


def test_constant_16bit_png_is_fine(tmp_path):
    Image.fromarray(np.full((6, 6), 3000, np.uint16)).save(tmp_path / "c.png")
    pixels = read(tmp_path / "c.png").pixels
    assert pixels.shape == (6, 6, 3) and np.all(pixels == 0)


def test_16bit_tiff(tmp_path):
    values = np.linspace(0, 65535, 48).reshape(6, 8).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.tif")
    pixels = read(tmp_path / "g16.tif").pixels[:, :, 1]
    assert pixels[0, 0] == 0 and pixels[-1, -1] == 255
    assert np.all(np.diff(pixels.ravel().astype(int)) >= 0)


def test_rgba_png_is_composited_on_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:, :2, 3] = 255
    rgba[:, 2:, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    pixels = read(tmp_path / "a.png").pixels.astype(int)
    assert tuple(pixels[0, 0]) == (200, 100, 50)
    assert np.abs(pixels[0, 3] - np.array([100, 50, 25])).max() <= 1


def test_grey_alpha_png(tmp_path):
    la = np.zeros((4, 4, 2), np.uint8)
    la[..., 0] = 200
    la[:, 2:, 1] = 255
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    pixels = read(tmp_path / "la.png").pixels
    assert np.all(pixels[:, :2] == 0) and np.all(pixels[:, 2:] == 200)


def test_palette_png_with_transparency_is_composited_on_black(tmp_path):
    im = Image.new("P", (4, 4), 1)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    im.putpixel((0, 0), 0)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    pixels = read(tmp_path / "p.png").pixels
    assert tuple(pixels[0, 0]) == (0, 0, 0)  # transparent red -> black
    assert tuple(pixels[1, 1]) == (0, 255, 0)


def test_palette_bmp(tmp_path):
    im = Image.new("P", (4, 4), 2)
    im.putpalette([0, 0, 0, 10, 20, 30, 40, 50, 60] + [0] * (253 * 3))
    im.save(tmp_path / "p.bmp")
    assert tuple(read(tmp_path / "p.bmp").pixels[2, 2]) == (40, 50, 60)


def test_cmyk_jpeg_is_converted_correctly(tmp_path):
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[:, :8] = (0, 255, 255, 0)  # red
    cmyk[:, 8:] = (255, 0, 0, 128)  # dark cyan: R 0, G/B ~127
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    pixels = read(tmp_path / "c.jpg").pixels.astype(int)
    assert np.abs(pixels[8, 3] - np.array([255, 0, 0])).max() <= 12
    assert np.abs(pixels[8, 12] - np.array([0, 127, 127])).max() <= 12


def test_exif_orientation_is_applied(tmp_path):
    rgb = np.zeros((4, 8, 3), np.uint8)
    rgb[:, :4] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(rgb).save(tmp_path / "o.jpg", exif=exif, quality=100)
    assert read(tmp_path / "o.jpg").pixels.shape == (8, 4, 3)


def test_extension_does_not_decide_the_format(tmp_path):
    Image.fromarray(colour_patches()).save(tmp_path / "really_png.jpg", format="PNG")
    np.testing.assert_array_equal(read(tmp_path / "really_png.jpg").pixels, colour_patches())


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.PNG", b"x", True),
        ("a.jpeg", b"x", True),
        ("a.tiff", b"x", True),
        ("a.dicom", b"x", True),
        ("README.txt", b"hello", False),
        (".DS_Store", b"\x00" * 200, False),
        ("IM0001", b"\x00" * 128 + b"DICM" + b"\x00" * 8, True),
        ("IM0002.1", b"\x00" * 128 + b"DICM", True),
        ("notes", b"plain text without marker", False),
    ],
)
def test_is_candidate(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert is_candidate(path) is expected


def test_folder_is_not_a_candidate(tmp_path):
    (tmp_path / "sub.png").mkdir()
    assert not is_candidate(tmp_path / "sub.png")


def test_real_ultrasound_jpegs_from_the_shared_data(shared_data):
    files = sorted((shared_data / "fbau" / "valid").glob("*.jpg"))[:3]
    if not files:
        pytest.skip("no fbau/valid JPEGs in the shared data")
    for path in files:
        image = read(path)
        assert image.pixels.shape == (640, 640, 3) and image.pixels.dtype == np.uint8
        assert image.pixels.std() > 5  # a real picture, not a blank
