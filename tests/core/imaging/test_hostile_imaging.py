"""Hostile files (issue 15): each is refused from its header or its stream's own markers,
before the decoder allocates or loops, with one ImageReadError naming the file and why."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from core.errors import ImageReadError
from core.imaging import probe_file, read_image
from core.imaging.dicom_header import read_dicom_header
from core.imaging.dicom_info import header_dict
from core.preprocess import PreprocessSpec, prepare
from tests.fuzz import hostile as H
from tests.fuzz.measure import peak_rss
from tests.support.models import random_image

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

MAX_INFLATED_BYTES = 256 * H.MIB  # core.imaging.limits (literal: the tests also ran before)


def _read(path: Path):
    return read_image(probe_file(path)[0])


def test_strip_png_is_refused_from_its_header(tmp_path):
    path = H.strip_png(tmp_path / "strip.png")
    with pytest.raises(ImageReadError, match=r"20000x1 pixels .* aspect ratio exceeds 20:1"):
        probe_file(path)


def test_centre_crop_framing_refuses_a_strip_before_resizing():
    """1 x 20000 with the published framing (short side to 256) asked for 15.7 GB."""
    strip = random_image(1, 20000, seed=3)
    spec = PreprocessSpec(resize=256, crop=224, framing="resize_short_centre_crop")
    with peak_rss() as peak, pytest.raises(ImageReadError, match=r"aspect ratio over 20:1"):
        prepare(strip, spec)
    assert peak.extra_mb < 200


def test_a_wide_but_real_picture_still_passes_both_framings():
    wide = random_image(100, 1900, seed=4)  # 19:1, under the limit
    for framing in ("pad_to_square", "resize_short_centre_crop"):
        tensor, _ = prepare(wide, PreprocessSpec(resize=72, crop=64, framing=framing))
        assert tensor.shape == (3, 64, 64)


def test_jpeg_in_dicom_larger_than_its_header_is_refused_before_decoding(tmp_path):
    """Header 320x256, JPEG stream 30000x30000: 36 s and 4.4 GB before the fix."""
    path = H.dicom_jpeg_lying_size(tmp_path / "lying.dcm")
    with peak_rss() as peak, pytest.raises(ImageReadError, match=r"30000x30000 but the header"):
        _read(path)
    assert peak.extra_mb < 200


def test_jpeg_in_dicom_that_agrees_with_its_header_still_decodes(tmp_path):
    path = H.dicom_jpeg_lying_size(tmp_path / "honest.dcm", stream=(320, 256))
    assert _read(path).pixels.shape == (256, 320, 3)


def test_deflate_bomb_is_refused_while_inflating(tmp_path):
    """1 MB inflating to 1 GiB took 4.5 GB before the fix."""
    path = H.deflate_bomb(tmp_path / "bomb.dcm", inflated=MAX_INFLATED_BYTES + H.MIB)
    with peak_rss() as peak, pytest.raises(ImageReadError, match=r"inflates to more than 256"):
        probe_file(path)
    assert peak.extra_mb < 200


def test_inflation_cap_counts_and_lets_small_deflated_files_through(tmp_path):
    from core.imaging.dicom_header import check_inflated_size

    path = H.deflate_bomb(tmp_path / "small.dcm", inflated=20 * H.MIB)
    check_inflated_size(path)  # under the cap: no error
    with pytest.raises(ImageReadError, match="inflates to more than 16 MiB"):
        check_inflated_size(path, limit=16 * H.MIB)


def test_progressive_jpeg_with_thousands_of_scans_is_refused(tmp_path):
    path = H.progressive_scan_bomb(tmp_path / "scans.jpg", n_scans=3000)
    with pytest.raises(ImageReadError, match=r"3000 scans exceeds the limit of 100"):
        _read(path)


def test_an_ordinary_progressive_jpeg_still_decodes(tmp_path):
    path = tmp_path / "prog.jpg"
    path.write_bytes(H.jpeg_bytes(np.full((40, 60), 90, np.uint8), progressive=True))
    assert path.read_bytes().count(b"\xff\xda") < 100
    assert _read(path).pixels.shape == (40, 60, 3)


def test_huge_private_element_is_not_read(tmp_path):
    """A 2 GiB private element (sparse file) cost 2 GB and 10 s to read before the fix."""
    path = H.huge_private_element(tmp_path / "huge.dcm")
    with peak_rss() as peak:
        image = _read(path)
        header_dict(read_dicom_header(path).ds)  # the app's tag view
    assert image.pixels.shape == (48, 64, 3)
    assert peak.extra_mb < 200


def test_header_with_half_a_million_elements_is_refused(tmp_path):
    """500,000 private elements: 50 s and 220 MB to parse and show before the fix."""
    path = H.many_private_elements(tmp_path / "many.dcm", n=500_000)
    with pytest.raises(ImageReadError, match=r"more than 50000 data elements"):
        probe_file(path)


def test_a_header_of_a_few_thousand_elements_is_fine(tmp_path):
    path = H.many_private_elements(tmp_path / "some.dcm", n=3000)
    assert _read(path).pixels.shape == (48, 64, 3)


def test_a_failing_decoder_plugin_logs_no_traceback(tmp_path, caplog):
    """pydicom logs each failed plugin with LOGGER.exception: a traceback on stderr in runs
    that succeed. The failure is still one ImageReadError."""
    path = H.dicom_jpeg_lying_size(tmp_path / "bad.dcm", stream=(320, 256))
    data = path.read_bytes()
    at = data.find(b"\xff\xc0")
    path.write_bytes(data[: at + 9] + b"\x00" + data[at + 10 :])  # 0 image components
    with caplog.at_level(logging.INFO), pytest.raises(ImageReadError, match="cannot decode"):
        _read(path)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_stream_dimensions_read_jpeg_and_j2k_markers():
    from core.imaging.encoded import jpeg_dimensions, stream_dimensions

    data = H.jpeg_bytes(np.zeros((30, 50), np.uint8))
    assert jpeg_dimensions(data) == (50, 30)
    assert stream_dimensions(H.set_jpeg_size(data, 1000, 2000)) == (1000, 2000)
    assert stream_dimensions(b"\x00" * 40) is None
    siz = b"\xff\x4f\xff\x51\x00\x29\x00\x00" + (700).to_bytes(4, "big") + (500).to_bytes(4, "big")
    assert stream_dimensions(siz + bytes(8)) == (700, 500)
