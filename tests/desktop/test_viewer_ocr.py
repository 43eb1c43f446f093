"""The viewer's de-identified display while OCR looks for burned-in text: black with "finding
burned-in text…" until the worker has found it, then the image with the text masked; without
Tesseract at once the geometric mask with the red warning. Real Tesseract, offscreen."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytesseract
import pytest

from core.burned_text import TEXT_MASKER
from core.deidentify import OCR_FALLBACK_WARNING, mask_burned_in_text
from core.records import ImageRef, LoadedImage
from desktop.rendering import qimage_to_array
from desktop.text_masking import text_masking
from desktop.viewmodels.viewer import ViewerState
from desktop.widgets.viewer import FINDING_TEXT, ImageViewer
from tests.support.burned_names import NAMES, REGION, name_box, named_frames

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
WAIT_MS = 60_000


@pytest.fixture
def fresh_masker(monkeypatch):
    """An empty OCR cache (restored after the test): an image OCR'd by an earlier test would
    skip the state under test."""
    monkeypatch.setattr(TEXT_MASKER, "_cache", OrderedDict())
    monkeypatch.setattr(TEXT_MASKER, "unavailable", None)


@pytest.fixture
def viewer(qtbot):
    view = ImageViewer(ViewerState())
    qtbot.addWidget(view)
    view.resize(640, 512)
    view.show()
    return view


def named_image() -> LoadedImage:
    pixels = np.dstack([named_frames()["P1"]] * 3)
    return LoadedImage(ImageRef(Path("P1.dcm"), patient_id="P1"), pixels, REGION, "US")


def painted(view) -> np.ndarray:
    return qimage_to_array(view.grab().toImage())


def note_pixels(frame: np.ndarray, colour) -> int:
    """Pixels of the note's colour in the band the viewer paints it in (its bottom)."""
    band = frame[-60:-14, 20:-20].astype(int)
    return int((np.abs(band - colour).sum(axis=2) < 60).sum())


def test_the_viewer_shows_finding_text_until_ocr_is_done_then_the_masked_image(
    qtbot, viewer, fresh_masker
):
    image = named_image()
    viewer.set_image(image, deidentified=True)
    with qtbot.waitSignal(text_masking().ocr_done, timeout=WAIT_MS):
        first = painted(viewer)  # this paint asks the worker for OCR
        assert viewer.deid_note == FINDING_TEXT
        assert (qimage_to_array(viewer._base) == 0).all()  # nothing of the image meanwhile
        assert note_pixels(first, (0xFF, 0xB3, 0x47)) > 50  # the orange note is painted
    assert TEXT_MASKER.known(image.pixels) is not None
    painted(viewer)  # the repaint ocr_done asked for
    assert viewer.deid_note is None
    shown = qimage_to_array(viewer._base)
    x0, y0, x1, y1 = name_box(NAMES["P1"])
    ink = image.pixels[y0:y1, x0:x1].max(axis=2) > 40
    assert ink.sum() > 100 and (shown[y0:y1, x0:x1][ink] == 0).all()
    assert shown[150:230, 120:250].mean() > 20  # the sector is on screen


def test_the_viewer_without_tesseract_shows_the_geometric_mask_and_the_warning(
    qtbot, viewer, fresh_masker, monkeypatch
):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    image = named_image()
    viewer.set_image(image, deidentified=True)
    with qtbot.waitSignal(text_masking().ocr_done, timeout=WAIT_MS):
        painted(viewer)  # the worker tries Tesseract, which cannot run
    assert "/nonexistent/tesseract" in TEXT_MASKER.unavailable
    frame = painted(viewer)
    assert viewer.deid_note == OCR_FALLBACK_WARNING
    np.testing.assert_array_equal(
        qimage_to_array(viewer._base), mask_burned_in_text(image.pixels, REGION)
    )
    assert note_pixels(frame, (0xFF, 0x5A, 0x5A)) > 50  # the red warning is painted
    # Identified display: no note, the pixels as decoded.
    viewer.set_image(image, deidentified=False)
    painted(viewer)
    np.testing.assert_array_equal(qimage_to_array(viewer._base), image.pixels)
