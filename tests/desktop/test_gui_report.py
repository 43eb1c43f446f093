"""The PDF report (issue 12): exam facts, measurements, the colour scale, pictures at a fixed
opacity, the verdict with its flags, model and sha256, the reader's impression and signature
line, the research-use line on every page. Read back with pypdf."""

from __future__ import annotations

import numpy as np
import pytest
from pypdf import PdfReader

import core
from core.measurements.measure import Measurement

WAIT_MS = 120_000


def _export(qtbot, win, path, **kwargs):
    win.export_report(path, **kwargs)
    qtbot.waitUntil(lambda: path.is_file() and win.last_export == [path], timeout=WAIT_MS)
    # Whitespace as single spaces, and the "fi" ligature the PDF font uses as two letters.
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]
    return [page.replace("\ufb01", "fi") for page in pages]


def test_the_report_carries_exam_measurements_verdict_model_and_signature(
    qtbot, opened_phantom_window, tmp_path
):
    win, _study = opened_phantom_window
    image = win.vm.current_image
    x0, y0, x1, y1 = image.calibration.regions[0].box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    win.measurements.add(
        win.vm.current_ref, Measurement("HC", ((cx - 30, cy), (cx + 30, cy), (cx, cy + 24)))
    )
    win.state.set_opacity(0.9)  # the screen's setting must not reach the report
    data = win.report_data()
    assert data.opacity == pytest.approx(0.45)
    pages = _export(qtbot, win, tmp_path / "r.pdf", impression="Normal-looking head.",
                    reader="Dr A. Reader")  # fmt: skip
    text = "\n".join(pages)
    patient = win.vm.current_patient
    assert f"Patient: {patient.patient_id}" in text
    assert "Study date:" in text and "Institution:" in text  # the phantoms' header has both
    assert "HC (head circumference)" in text and "INTERGROWTH-21st HC" in text and " mm" in text
    assert "Heatmap colour scale" in text and "45% opacity" in text
    assert data.verdict_text.split(" — ")[0] in text
    assert data.weights_sha256 in text
    assert "Normal-looking head." in text and "Dr A. Reader" in text and "signature" in text
    assert all(core.RESEARCH_USE_ONLY in page for page in pages)
    assert win.settings.reader_name == "Dr A. Reader"
    # The pictures: the heatmap is drawn as the viewer draws it (low end transparent).
    for item in data.images:
        if item.overlay is not None:
            same = np.all(item.overlay == item.pixels, axis=2).mean()
            assert 0.05 < same < 1.0  # parts untouched, parts coloured


def test_a_deidentified_report_withholds_the_exam_facts(qtbot, opened_phantom_window, tmp_path):
    win, study = opened_phantom_window
    patient = win.vm.current_patient
    win.vm.set_deidentified(True)
    text = "\n".join(_export(qtbot, win, tmp_path / "d.pdf", impression=""))
    assert patient.patient_id not in text and str(study) not in text
    assert "Patient: Case 1 (de-identified)" in text
    assert "Study date: withheld (de-identified)" in text
    assert "Institution: withheld (de-identified)" in text


def test_the_report_dialog_asks_impression_and_reader_then_exports(
    qtbot, opened_phantom_window, tmp_path, monkeypatch
):
    win, _study = opened_phantom_window
    target = tmp_path / "asked.pdf"
    monkeypatch.setattr("desktop.main_window.ask_save_path", lambda *a, **k: target)
    dialog = win.export_report()
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    dialog.impression.setPlainText("See text.")
    dialog.reader.setText("Dr B")
    dialog._sign()
    qtbot.waitUntil(lambda: target.is_file() and win.last_export == [target], timeout=WAIT_MS)
    assert "Dr B" in " ".join(PdfReader(target).pages[-1].extract_text().split())
