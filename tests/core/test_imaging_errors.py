"""Bad input: every failure is an ImageReadError with a specific reason, fast, no raw traceback."""

from __future__ import annotations

import io
import tracemalloc
import warnings

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import MPEG2MPML, JPEGBaseline8Bit

from core.errors import ImageReadError
from core.imaging import dicom_decode, probe_file, read_image
from core.records import ImageRef
from tests.support.dicom_files import (
    base_dataset,
    colour_patches,
    huge_png_header,
    jpeg_header,
    write_dicom,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def reason_of(func, *args) -> str:
    with pytest.raises(ImageReadError) as info:
        func(*args)
    assert str(info.value).startswith(info.value.path)
    return info.value.reason


def probe_reason(path) -> str:
    return reason_of(probe_file, path)


def read_reason(path) -> str:
    return reason_of(read_image, ImageRef(path=path))


def noise(n=4000, seed=0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.dcm").write_bytes(b"")
    assert probe_reason(tmp_path / "empty.dcm") == "empty file (0 bytes)"
    assert read_reason(tmp_path / "empty.dcm") == "empty file (0 bytes)"


def test_missing_file_and_folder(tmp_path):
    assert probe_reason(tmp_path / "nope.png") == "file not found"
    (tmp_path / "dir.png").mkdir()
    assert "not a file" in probe_reason(tmp_path / "dir.png")


def test_random_bytes_named_dcm(tmp_path):
    (tmp_path / "noise.dcm").write_bytes(noise())
    assert probe_reason(tmp_path / "noise.dcm").startswith("not a DICOM file")
    assert read_reason(tmp_path / "noise.dcm").startswith("not a DICOM file")


def test_random_bytes_named_png(tmp_path):
    (tmp_path / "noise.png").write_bytes(noise())
    reason = probe_reason(tmp_path / "noise.png")
    assert reason.startswith("not an image: the file is named .png")


def test_text_file_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("Patient notes: nothing to see here.\n")
    reason = probe_reason(tmp_path / "notes.jpg")
    assert "named .jpg" in reason and "looks like text" in reason


def test_unsupported_format_is_named(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "x.gif")
    assert probe_reason(tmp_path / "x.gif").startswith("unsupported format GIF")


def test_png_header_claiming_100000_squared_is_refused_from_the_header(tmp_path):
    (tmp_path / "bomb.png").write_bytes(huge_png_header())
    tracemalloc.start()
    try:
        reason = probe_reason(tmp_path / "bomb.png")
        assert "100000x100000 exceed the limit" in reason
        assert "100000x100000 exceed the limit" in read_reason(tmp_path / "bomb.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, (
        f"refusing the header allocated {peak} bytes"
    )  # 10^10 px never allocated


@pytest.mark.parametrize(
    ("width", "height"),
    [(60_000, 60_000), (10_000, 10_000), (9_000, 9_000)],
    ids=["pillow-error", "pillow-warning", "our-limit"],
)
def test_jpeg_header_too_large_never_warns_or_decodes(tmp_path, width, height):
    (tmp_path / "big.jpg").write_bytes(jpeg_header(width, height))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        reason = probe_reason(tmp_path / "big.jpg")
    assert "exceed the limit" in reason


def test_truncated_png(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    (tmp_path / "cut.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert probe_file(tmp_path / "cut.png")  # the header is intact
    assert read_reason(tmp_path / "cut.png").startswith("truncated or corrupt PNG image")


def test_truncated_jpeg(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert read_reason(tmp_path / "cut.jpg").startswith("truncated or corrupt JPEG image")


def test_truncated_native_dicom(tmp_path):
    path = write_dicom(tmp_path / "x.dcm", np.zeros((32, 32), np.uint8))
    path.write_bytes(path.read_bytes()[:-300])
    reason = probe_reason(path)
    assert reason.startswith("truncated DICOM file: pixel data needs 1024 bytes")
    assert read_reason(path) == reason


def test_truncated_jpeg_dicom_fails_on_decode_with_a_reason(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = write_dicom(tmp_path / "x.dcm", rgb, "RGB", syntax=JPEGBaseline8Bit)
    path.write_bytes(path.read_bytes()[:-1500])
    reason = probe_reason(path)
    assert reason.startswith("truncated DICOM file: the compressed pixel data")
    assert read_reason(path) == reason


def test_truncated_dicom_header(tmp_path):
    path = write_dicom(tmp_path / "x.dcm", np.zeros((8, 8), np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    assert probe_reason(path).startswith(
        ("truncated or corrupt DICOM header", "DICOM file without")
    )


def test_pixel_data_length_mismatch(tmp_path):
    ds = base_dataset()
    ds.set_pixel_data(np.zeros((16, 16), np.uint8), "MONOCHROME2", 8)
    ds.PixelData = ds.PixelData[:100]
    path = tmp_path / "short.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert probe_reason(path) == (
        "pixel data length mismatch: 16x16, 1 frame(s) need 256 bytes but the Pixel Data "
        "element holds 100"
    )


def test_dicom_dimensions_over_the_limit_are_refused_without_decoding(tmp_path):
    ds = base_dataset()
    ds.set_pixel_data(np.zeros((4, 4), np.uint8), "MONOCHROME2", 8)
    ds.Rows, ds.Columns = 30_000, 30_000
    path = tmp_path / "huge.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert (
        probe_reason(path)
        == "image dimensions 30000x30000 exceed the limit of 20000 px per side and 80 Mpixel"
    )


def test_too_many_frames(tmp_path):
    ds = base_dataset()
    ds.set_pixel_data(np.zeros((2, 4, 4), np.uint8), "MONOCHROME2", 8)
    ds.NumberOfFrames = 20_000
    path = tmp_path / "cine.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert "20000 frames exceed the limit" in probe_reason(path)


def test_video_transfer_syntax_is_named(tmp_path):
    path = write_dicom(tmp_path / "x.dcm", colour_patches(), "RGB", syntax=JPEGBaseline8Bit)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.save_as(path)
    reason = probe_reason(path)
    assert reason.startswith("unsupported transfer syntax MPEG2 Main Profile / Main Level")
    assert "video" in reason


def test_missing_decoder_plugin_is_named(tmp_path, monkeypatch):
    class Unavailable:
        is_available = False
        missing_dependencies = ["pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-libjpeg>=2.1"]

    monkeypatch.setattr(dicom_decode, "get_decoder", lambda uid: Unavailable())
    path = write_dicom(tmp_path / "x.dcm", colour_patches(), "RGB", syntax=JPEGBaseline8Bit)
    reason = read_reason(path)
    assert reason.startswith("unsupported transfer syntax JPEG Baseline (Process 1)")
    assert "pylibjpeg-libjpeg" in reason


def test_decoder_exceptions_are_wrapped(tmp_path, monkeypatch):
    class Exploding:
        is_available = True
        missing_dependencies = []

        def as_array(self, *args, **kwargs):
            raise IndexError("index 7 is out of bounds for axis 0")

    monkeypatch.setattr(dicom_decode, "get_decoder", lambda uid: Exploding())
    path = write_dicom(tmp_path / "x.dcm", np.zeros((4, 4), np.uint8))
    reason = read_reason(path)
    assert reason.startswith("cannot decode Explicit VR Little Endian")
    assert "index 7 is out of bounds" in reason


def test_unexpected_errors_never_escape_raw(tmp_path, monkeypatch):
    from core.imaging import reader

    def boom(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(reader, "to_display_rgb", boom)
    path = write_dicom(tmp_path / "x.dcm", np.zeros((4, 4), np.uint8))
    assert read_reason(path) == "cannot read image: ZeroDivisionError: division by zero"
