"""End-to-end on the real main window (offscreen): a phantom study, a tiny model bundle."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.rendering import qimage_to_array
from desktop.verdict_text import patient_badge
from desktop.viewmodels.cohort import PatientStatus
from desktop.viewmodels.groups import patient_key

WAIT_MS = 120_000


@pytest.fixture
def window(qtbot):
    from desktop.app import _build
    from desktop.settings import AppSettings
    from desktop.theme import apply_dark_theme

    apply_dark_theme(qtbot_app(qtbot))
    session, win = _build(AppSettings())
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    yield win
    win.close()


def qtbot_app(_qtbot):
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


def open_and_wait(qtbot, win, study, bundle):
    with qtbot.waitSignal(win.session.model_changed, timeout=WAIT_MS):
        win.session.load_model(bundle, "cpu")
    with qtbot.waitSignal(win.session.all_predicted, timeout=WAIT_MS):
        win.open_paths([study])
    qtbot.waitUntil(lambda: win.vm.current_image is not None, timeout=WAIT_MS)


def viewer_pixels(win) -> np.ndarray:
    return qimage_to_array(win.pane.viewer.grab().toImage())


def press(qtbot, win, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(win.pane.viewer, key, modifier)


def test_phantom_study_end_to_end_predictions_verdicts_and_heatmap_toggle(
    qtbot, window, phantom_study, tiny_bundle
):
    win = window
    open_and_wait(qtbot, win, phantom_study, tiny_bundle)
    vm = win.vm
    assert len(vm.patients) == 2
    for row, patient in enumerate(vm.patients):
        verdict = vm.verdict(patient_key(patient))
        assert vm.status(patient_key(patient)) == PatientStatus.DONE
        assert verdict.n_images == len(patient.images)  # every frame of the cine counts
        assert win.patient_list.badge_text(row) == patient_badge(verdict)[0]
    # Per-image predictions are shown in the thumbnails and the results panel.
    assert all("%" in win.thumbnails.prediction_label(r) for r in range(win.thumbnails.count()))
    pred = vm.current_prediction
    assert np.allclose(win.results.image_bars.probs, pred.probs)
    assert win.results.verdict_title.text().split()[0] in win.patient_list.badge_text(0)
    assert "mean softmax" in win.results.verdict_rule.text()
    assert (
        win.status.device_label.text() == "Device: cpu"
        and "test-model" in win.status.model_label.text()
    )
    # H toggles the heatmap: the rendered viewer pixels change, and come back.
    before = viewer_pixels(win)
    press(qtbot, win, Qt.Key.Key_H)
    assert win.state.heatmap_on and win.actions_by_name["heatmap"].isChecked()
    with_heatmap = viewer_pixels(win)
    assert np.abs(with_heatmap.astype(int) - before).mean() > 1.0
    layer = win.pane.viewer._heat
    win.state.pan_by(3, 0)  # panning repaints but never recolours the heatmap
    win.state.pan_by(-3, 0)
    assert win.pane.viewer._heat is layer
    press(qtbot, win, Qt.Key.Key_H)
    assert np.array_equal(viewer_pixels(win), before)


def test_keyboard_navigation_view_tools_and_cine(qtbot, window, phantom_study, tiny_bundle):
    win, vm, st = window, window.vm, window.state
    open_and_wait(qtbot, win, phantom_study, tiny_bundle)
    press(qtbot, win, Qt.Key.Key_Right)
    assert vm.group_index == 1
    press(qtbot, win, Qt.Key.Key_Left)
    assert vm.group_index == 0
    press(qtbot, win, Qt.Key.Key_PageDown)
    assert vm.patient_index == 1
    press(qtbot, win, Qt.Key.Key_PageUp)
    assert vm.patient_index == 0
    press(qtbot, win, Qt.Key.Key_Z)
    press(qtbot, win, Qt.Key.Key_I)
    assert st.geometry.zoom is not None and st.invert
    press(qtbot, win, Qt.Key.Key_Space)
    assert st.geometry.zoom is None and not st.invert
    cine_row = next(i for i, g in enumerate(vm.current_groups) if g.is_cine)
    vm.select_group(cine_row)
    assert win.pane.cine_bar.isVisible()
    press(qtbot, win, Qt.Key.Key_C)
    assert st.cine_playing
    qtbot.waitUntil(lambda: vm.frame_index >= 2, timeout=5000)
    press(qtbot, win, Qt.Key.Key_C)
    assert not st.cine_playing and not win.pane.cine_bar.timer.isActive()


def test_bad_bundle_is_refused_with_a_message_and_the_old_model_kept(
    qtbot, window, phantom_study, tiny_bundle, tmp_path
):
    win = window
    open_and_wait(qtbot, win, phantom_study, tiny_bundle)
    old = win.session.model.model
    bad = tmp_path / "bad_bundle"
    bad.mkdir()
    (bad / "model_card.json").write_text("{not json")
    with qtbot.waitSignal(win.session.model_failed, timeout=WAIT_MS):
        win.session.load_model(bad, "cpu")
    assert win.last_message is not None and win.last_message.isVisible()
    assert "not valid JSON" in win.last_message.text() and old.card.name in win.last_message.text()
    assert win.session.model.model is old
    assert old.card.name in win.status.model_label.text()
    assert vm_all_verdicts(win)  # predictions were not thrown away


def vm_all_verdicts(win) -> bool:
    return all(win.vm.verdict(patient_key(p)) is not None for p in win.vm.patients)


def test_bad_files_are_listed_and_the_rest_is_analysed(qtbot, window, png_study, tiny_bundle):
    win = window
    open_and_wait(qtbot, win, png_study, tiny_bundle)
    assert win.error_dock.isVisible()
    texts = [win.errors.item(i).text() for i in range(win.errors.count())]
    assert len(texts) == 1 and "broken.png" in texts[0]
    assert vm_all_verdicts(win)


def test_deidentified_mode_hides_ids_and_masks_the_burned_in_header(
    qtbot, window, phantom_study, tiny_bundle
):
    win = window
    open_and_wait(qtbot, win, phantom_study, tiny_bundle)
    image = win.vm.current_image
    patient_id = win.vm.current_patient.patient_id
    assert patient_id in win.patient_list.item(0).text()
    press(qtbot, win, Qt.Key.Key_D)
    assert win.vm.deidentified and win.settings.deidentified
    assert win.patient_list.item(0).text() == "Case 1"
    assert patient_id not in win.windowTitle()
    assert {"PatientName", "PatientID", "InstitutionName", "StudyDate"}.isdisjoint(win.tags.tags())
    assert win.tags.tags()["Modality"] == "US"
    corners = " ".join(" ".join(lines) for lines in win.pane.viewer._corners.values())
    assert patient_id not in corners and "DE-IDENTIFIED" in corners
    # The viewer shows black outside the ultrasound region, where the scanner burns in text.
    assert image.region is not None  # phantom DICOMs declare their ultrasound region
    top = image.region[1]
    shown = qimage_to_array(win.pane.viewer._base_image())
    assert image.pixels[:top].max() > 0 and shown[:top].max() == 0


def test_exports_report_pdf_and_predictions_csv(
    qtbot, window, phantom_study, tiny_bundle, tmp_path
):
    win = window
    open_and_wait(qtbot, win, phantom_study, tiny_bundle)
    pdf = tmp_path / "report.pdf"
    win.export_report(pdf)
    qtbot.waitUntil(lambda: pdf.is_file() and win.last_export == [pdf], timeout=WAIT_MS)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000  # text plus the images
    out = tmp_path / "preds.csv"
    win.vm.set_deidentified(True)
    win.export_csv(out)
    rows = list(csv.DictReader(out.open()))
    patients = list(csv.DictReader((tmp_path / "preds_patients.csv").open()))
    assert len(rows) == sum(len(p.images) for p in win.vm.patients)
    assert {r["patient_id"] for r in rows} == {"Case 1", "Case 2"}
    assert not any(str(phantom_study) in r["path"] for r in rows)
    assert [p["patient_id"] for p in patients] == ["Case 1", "Case 2"]
    assert {p["rule"] for p in patients} == {"mean_softmax"}
    assert patients[0]["top_images"] and not any(".dcm" in p["top_images"] for p in patients)
    assert abs(sum(float(patients[0][f"p_{c}"]) for c in win.vm.class_names) - 1) < 1e-4


def test_about_dialog_shows_the_model_card_and_help_lists_shortcuts(qtbot, window, tiny_bundle):
    win = window
    with qtbot.waitSignal(win.session.model_changed, timeout=WAIT_MS):
        win.session.load_model(tiny_bundle, "cpu")
    about = win.show_about()
    text = about.browser.toPlainText()
    card = win.session.model.model.card
    assert card.name in text and card.weights_sha256 in text and "Research use only" in text
    assert "Validation metrics" in text and "Device in use" in text
    assert "Inference backend" in text and "onnxruntime" in text  # the default, auto, on a CPU
    shortcuts = win.show_shortcuts()
    rows = [
        (shortcuts.table.item(i, 0).text(), shortcuts.table.item(i, 1).text())
        for i in range(shortcuts.table.rowCount())
    ]
    keys = [k for k, _text in rows]
    assert {"Z / +", "=", "Space", "H", "C", "I", "PgUp", "PgDown"} <= set(keys)
    # The PACS menu's shortcut too, in menu-bar order: after Model's, before Help's.
    assert ("Ctrl+Shift+P", "Study browser…") in rows
    assert keys.index("Ctrl+R") < keys.index("Ctrl+Shift+P") < keys.index("F1")
    assert win.pacs.actions["pacs_browser"].shortcut().toString() == "Ctrl+Shift+P"
    about.close()
    shortcuts.close()


def test_research_use_banner_is_always_visible(qtbot, window):
    assert window.pane.banner.isVisible() and "not for diagnosis" in window.pane.banner.text()


def test_drop_opens_files_and_they_become_a_recent_study(qtbot, window, png_study):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    win = window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(png_study))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(win.session.study_opened, timeout=WAIT_MS):
        win.dropEvent(event)
    assert [p.patient_id for p in win.vm.patients] == ["P001", "P002"]
    assert win.settings.recent_studies == [str(png_study)]
    recent_menu = win.actions_by_name["_recent_menu"]
    assert recent_menu.isEnabled() and recent_menu.actions()[0].text() == str(png_study)


def test_settings_persist_opacity_device_choice_and_window_geometry(qtbot, window, tiny_bundle):
    from desktop.settings import AppSettings

    win = window
    win.pane.heatmap_controls.opacity.setValue(70)
    win.change_device("cpu")
    assert win.actions_by_name["backend_auto"].isChecked()
    win.actions_by_name["backend_torch"].trigger()  # Model > Inference backend
    win.close()
    again = AppSettings()
    assert again.opacity == pytest.approx(0.7) and again.device == "cpu"
    assert again.backend == "torch"
    geometry, state = again.window_state()
    assert geometry is not None and state is not None


def test_report_shows_one_image_per_file_with_and_without_heatmap(
    qtbot, window, phantom_study, tiny_bundle
):
    from desktop.export import snapshot_patient
    from desktop.report_pdf import render_report_preview

    win = window
    open_and_wait(qtbot, win, phantom_study, tiny_bundle)
    data = snapshot_patient(win.vm, win.session.model.model, 0.45)
    files = win.vm.current_groups
    assert len(data.images) == min(len(files), 12)  # a cine gives one picture, not each frame
    assert len({item.label.split(" [")[0] for item in data.images}) == len(data.images)
    for item in data.images:
        assert item.pixels.shape == item.overlay.shape
        assert np.abs(item.overlay.astype(int) - item.pixels).mean() > 1  # the heatmap is drawn
    page = qimage_to_array(render_report_preview(data))
    assert page.shape[0] > page.shape[1] > 1000  # A4 portrait at 150 dpi
    dark = (page.max(axis=2) < 100).mean()
    assert 0.05 < dark < 0.6  # text and pictures on white, not a blank or black page


def test_every_image_is_decoded_once_for_display_and_model(
    qtbot, window, phantom_study, tiny_bundle, monkeypatch
):
    """Opening a study decodes each file (each cine frame) once: the pixels shown and the
    pixels predicted are the same decode (issue 10: no repeated decode of a file)."""
    from collections import Counter

    import core.imaging

    reads, real = Counter(), core.imaging.read_image

    def counting(ref):
        reads[(ref.key, ref.frame)] += 1
        return real(ref)

    monkeypatch.setattr(core.imaging, "read_image", counting)
    open_and_wait(qtbot, window, phantom_study, tiny_bundle)
    n_images = sum(len(p.images) for p in window.vm.cohort.patients)
    assert window.vm.predicted_image_count == n_images > 0
    assert len(reads) == n_images and set(reads.values()) == {1}, reads.most_common(3)


def test_images_show_their_results_batch_by_batch_before_the_verdict(
    qtbot, window, phantom_study, tiny_bundle
):
    """Each batch's predictions reach the view as soon as they exist (a cine's frames get
    their heatmaps while it plays); the patient's verdict waits for all of its images."""
    seen = []

    def record(key):
        patient = window.vm.patient(key)
        n = sum(window.vm.prediction(ref) is not None for ref in patient.images)
        seen.append((key, n, len(patient.images), window.vm.verdict(key) is not None))

    window.vm.predictions_changed.connect(record)
    open_and_wait(qtbot, window, phantom_study, tiny_bundle)
    partial = [s for s in seen if 0 < s[1] < s[2]]
    assert partial, seen  # the phantom patients have more images than one batch (8)
    assert not any(has_verdict for *_, has_verdict in partial)
    for key in {s[0] for s in seen}:
        last = [s for s in seen if s[0] == key][-1]
        assert last[1] == last[2] and last[3]
