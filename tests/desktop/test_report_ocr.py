"""The de-identified PDF report masks the text OCR finds inside the ultrasound region (issue
11, item 3), read back from the PDF's embedded pictures; without Tesseract it is refused and
nothing is written. Real Tesseract, DICOM files with a name drawn inside the region."""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np
import pytesseract
import pytest
from pypdf import PdfReader

from core.burned_text import TEXT_MASKER
from core.deidentify import heuristic_text_mask
from tests.support.burned_names import (
    NAMES,
    REGION,
    name_box,
    named_frames,
    shown_patient,
    write_named_study,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
WAIT_MS = 120_000


@pytest.fixture
def named_window(qtbot, main_window, tiny_bundle, tmp_path):
    """The main window with the two named files opened, analysed, and de-identified."""
    frames = named_frames()
    write_named_study(tmp_path / "data", frames)
    with qtbot.waitSignal(main_window.session.model_changed, timeout=WAIT_MS):
        main_window.session.load_model(tiny_bundle, "cpu")
    with qtbot.waitSignal(main_window.session.all_predicted, timeout=WAIT_MS):
        main_window.open_paths([tmp_path / "data" / "manifest.csv"])
    qtbot.waitUntil(lambda: main_window.vm.current_image is not None, timeout=WAIT_MS)
    main_window.vm.set_deidentified(True)
    return main_window, frames


def pdf_pictures(path) -> list[np.ndarray]:
    """The pictures embedded in the PDF, as H x W x 3 arrays."""
    from PIL import Image

    pictures = []
    for page in PdfReader(path).pages:
        for image in page.images:
            pictures.append(np.asarray(Image.open(io.BytesIO(image.data)).convert("RGB")))
    return pictures


def test_the_deidentified_report_masks_the_name_inside_the_region(qtbot, named_window, tmp_path):
    win, frames = named_window
    raw = win.vm.current_image.pixels
    x0, y0, x1, y1 = name_box(NAMES[shown_patient(raw, frames)])
    assert heuristic_text_mask(raw, REGION)[y0:y1, x0:x1].mean() < 0.1  # only OCR finds it
    path = tmp_path / "case.pdf"
    win.export_report(path, impression="")
    qtbot.waitUntil(lambda: path.is_file() and win.last_export == [path], timeout=WAIT_MS)
    ink = raw[y0:y1, x0:x1].max(axis=2) > 40  # the name's glyphs (the sector there is dark)
    assert ink.sum() > 100
    pictures = [p for p in pdf_pictures(path) if p.shape[:2] == raw.shape[:2]]
    assert len(pictures) == 2  # the picture and its heatmap
    for picture in pictures:
        assert picture[y0:y1, x0:x1][ink].max() < 20  # black (Qt may embed it as JPEG)
        assert picture[150:230, 120:250].mean() > 20  # the sector itself is in the report
    # Identified, the same report shows the name: the check above can fail.
    win.vm.set_deidentified(False)
    plain = tmp_path / "plain.pdf"
    win.export_report(plain, impression="")
    qtbot.waitUntil(lambda: plain.is_file() and win.last_export == [plain], timeout=WAIT_MS)
    shown = [p for p in pdf_pictures(plain) if p.shape[:2] == raw.shape[:2]]
    name = shown[0][y0:y1, x0:x1][ink]
    assert name.mean() > raw[y0:y1, x0:x1][ink].mean() - 15 and name.min() > 25


def test_without_tesseract_the_deidentified_report_is_refused(
    qtbot, named_window, tmp_path, monkeypatch
):
    win, _frames = named_window
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    monkeypatch.setattr(TEXT_MASKER, "_cache", OrderedDict())  # restored after the test
    monkeypatch.setattr(TEXT_MASKER, "unavailable", None)
    path = tmp_path / "refused.pdf"
    with qtbot.waitSignal(win.reports.failed, timeout=WAIT_MS) as failed:
        win.export_report(path, impression="")
    title, text = failed.args
    assert title == "Export failed"
    assert "de-identified report was not written" in text and "install-system-deps.sh" in text
    assert not path.exists() and win.last_export != [path]
