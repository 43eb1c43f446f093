# ruff: noqa: F811 - the reading-mode fixtures are imported, then named as test arguments
"""Burned-in text inside the ultrasound region is masked in the reading window (issue 11, item
3): OCR runs while the case loads (never on the GUI thread, never on the reading clock), and
without Tesseract the window shows the geometric mask with the warning. Real Tesseract, real
DICOM files with a US region and a name drawn inside it."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytesseract
import pytest

from core.bundle import read_card
from core.burned_text import TEXT_MASKER
from core.deidentify import OCR_FALLBACK_WARNING, heuristic_text_mask, mask_burned_in_text
from core.discovery import discover
from core.readerstudy.protocol import create_protocol, save_protocol
from core.taxonomy import DEFAULT_CLASS_NAMES
from desktop.rendering import qimage_to_array
from desktop.widgets.thumbnails import IMAGE_ROLE
from tests.desktop.test_reading_mode import open_window  # noqa: F401 - fixture
from tests.support.burned_names import (
    NAMES,
    REGION,
    name_box,
    named_frames,
    shown_patient,
    write_named_study,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def frames():
    return named_frames()


@pytest.fixture
def ocr_study(tmp_path, frames, tiny_bundle):
    """A sequential study (the first read of every case is unaided: no model is loaded) of
    the two named DICOM files."""
    manifest = write_named_study(tmp_path / "data", frames)
    protocol = create_protocol(
        discover([manifest]).patients, data=str(manifest), readers=["R1"], design="sequential",
        class_names=DEFAULT_CLASS_NAMES, washout_days=0.0,
        model={"path": str(tiny_bundle), "weights_sha256": read_card(tiny_bundle).weights_sha256},
    )  # fmt: skip
    save_protocol(protocol, tmp_path / "study")
    return tmp_path / "study"


def shown_pixels(win) -> np.ndarray:
    """What the reading window's viewer paints of the image (after its de-identification)."""
    viewer = win.pane.viewer
    viewer.grab()  # one paint: the viewer builds its image from the masked pixels
    return qimage_to_array(viewer._base_image())


def test_a_name_inside_the_region_is_masked_in_the_reading_window(ocr_study, frames, open_window):
    win = open_window(ocr_study, "R1")  # waits for case_ready: OCR ran while it loaded
    assert win.vm.deidentified and win.vm.current_image.region == REGION
    patient = shown_patient(win.vm.current_image.pixels, frames)
    x0, y0, x1, y1 = name_box(NAMES[patient])
    raw = win.vm.current_image.pixels
    assert (raw[y0:y1, x0:x1] > 200).any()  # the name is there in the decoded pixels
    # ... and geometry alone would leave it readable: only OCR can mask it.
    assert heuristic_text_mask(raw, REGION)[y0:y1, x0:x1].mean() < 0.1
    # On screen at once (the boxes were cached before the case was shown), no "finding text".
    assert TEXT_MASKER.known(raw) is not None
    shown = shown_pixels(win)
    assert win.pane.viewer.deid_note is None
    assert (shown[y0:y1, x0:x1] == 0).all()
    # The rest of the sector is still shown: the mask is the name's line, not the region.
    assert shown[150:230, 120:250].mean() > 20
    # The thumbnail is masked with the same boxes.
    thumb = qimage_to_array(win.thumbnails.item(0).data(IMAGE_ROLE))
    scale = thumb.shape[1] / raw.shape[1]
    tx0, ty0, tx1, ty1 = (int(v * scale) for v in (x0, y0, x1, y1))
    assert thumb[ty0 + 1 : ty1 - 1, tx0 + 1 : tx1 - 1].max() == 0


def test_without_tesseract_the_reading_window_shows_the_geometric_mask_and_warns(
    ocr_study, frames, open_window, monkeypatch
):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    # A fresh cache (restored after the test): earlier tests' OCR answers would hide the fault.
    monkeypatch.setattr(TEXT_MASKER, "_cache", OrderedDict())
    monkeypatch.setattr(TEXT_MASKER, "unavailable", None)
    win = open_window(ocr_study, "R1")
    assert TEXT_MASKER.unavailable is not None and "/nonexistent/tesseract" in (
        TEXT_MASKER.unavailable
    )
    raw = win.vm.current_image.pixels
    shown = shown_pixels(win)
    assert win.pane.viewer.deid_note == OCR_FALLBACK_WARNING
    assert "install-system-deps.sh" in OCR_FALLBACK_WARNING
    np.testing.assert_array_equal(shown, mask_burned_in_text(raw, REGION))
    # The warning is painted on the image (red text in the band at the viewer's bottom).
    painted = qimage_to_array(win.pane.viewer.grab().toImage())
    band = painted[-60:-14, 20:-20]
    red = (band[..., 0] > 200) & (band[..., 1] < 140) & (band[..., 2] < 140)
    assert red.sum() > 50
