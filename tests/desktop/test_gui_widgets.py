"""Thin widgets on real view-models (pytest-qt, offscreen), no model needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.records import Cohort, ImageRef, LoadedImage, Patient
from desktop.rendering import qimage_to_array
from desktop.viewmodels.cohort import CohortViewModel, PatientPixels
from desktop.viewmodels.viewer import ViewerState
from desktop.widgets.controls import CineBar, HeatmapControls
from desktop.widgets.panels import ErrorList
from desktop.widgets.patient_list import PatientList
from desktop.widgets.results_panel import ResultsPanel
from desktop.widgets.thumbnails import ThumbnailStrip
from desktop.widgets.viewer import ImageViewer
from tests.support.gui import fake_prediction

CLASSES = ("normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis")


def _image(ref, value=90, header=None, frame_time=None):
    pixels = np.full((60, 80, 3), value, np.uint8)
    pixels[:5] = 250  # a "burned-in" header line
    return LoadedImage(ref=ref, pixels=pixels, header=header or {}, frame_time_ms=frame_time)


@pytest.fixture
def loaded_vm(qtbot):
    """Patient A: one still image; patient B: a 4-frame cine. Pixels and predictions set."""
    still = ImageRef(Path("/s/A/still.png"), patient_id="A")
    cine = tuple(
        ImageRef(Path("/s/B/cine.dcm"), frame=i, patient_id="B", n_frames=4) for i in range(4)
    )
    vm = CohortViewModel()
    vm.set_cohort(Cohort("/s", (Patient("A", (still,)), Patient("B", cine))))
    vm.set_model_classes(CLASSES, "mean_softmax")
    header = {"PatientName": "DOE^JANE", "Modality": "US"}
    vm.set_pixels(
        "A",
        PatientPixels(
            images={still.key: _image(still, header=header)},
            thumbnails={str(still.path): np.full((30, 40, 3), 250, np.uint8)},
        ),
    )
    vm.set_pixels(
        "B",
        PatientPixels(images={r.key: _image(r, 40 + 40 * r.frame, frame_time=20.0) for r in cine}),
    )
    vm.set_predictions(
        "A", [fake_prediction(still, [0.05, 0.05, 0.8, 0.05, 0.05], box=(0, 0, 80, 60))]
    )
    vm.set_predictions("B", [fake_prediction(r, [0.9, 0.025, 0.025, 0.025, 0.025]) for r in cine])
    return vm


def _grab(widget) -> np.ndarray:
    return qimage_to_array(widget.grab().toImage())


def test_viewer_paints_the_image_and_the_heatmap_only_when_on(qtbot, loaded_vm):
    state = ViewerState()
    viewer = ImageViewer(state)
    qtbot.addWidget(viewer)
    viewer.resize(400, 300)
    viewer.set_image(loaded_vm.current_image)
    pred = loaded_vm.current_prediction
    viewer.set_heatmap(pred.cams[2], pred.input_box)
    plain = _grab(viewer)
    assert plain[150, 200].tolist() == [90, 90, 90]  # centre of the fitted image
    state.set_heatmap_on(True)
    with_heat = _grab(viewer)
    assert viewer.heatmap_visible
    assert np.abs(with_heat.astype(int) - plain).mean() > 5
    state.set_opacity(0.0)  # the image is as without heatmap (the legend stays, outside this area)
    image_area = np.s_[40:245, 60:340]  # the legend and its note take the bottom right
    assert np.abs(_grab(viewer)[image_area].astype(int) - plain[image_area]).max() <= 1


def test_viewer_zoom_rotation_and_deidentified_mask(qtbot, loaded_vm):
    state = ViewerState()
    viewer = ImageViewer(state)
    qtbot.addWidget(viewer)
    viewer.resize(400, 300)
    viewer.set_image(loaded_vm.current_image)
    fitted = viewer.fit_scale()
    assert fitted == pytest.approx(min(392 / 80, 292 / 60))
    state.rotate()
    assert viewer.fit_scale() == pytest.approx(min(392 / 60, 292 / 80))
    state.reset()
    top_band_y = 150 - int(30 * fitted) + 5  # inside the image's top 5 rows (value 250)
    assert _grab(viewer)[top_band_y, 200].tolist() == [250, 250, 250]
    viewer.set_image(loaded_vm.current_image, deidentified=True)
    assert _grab(viewer)[top_band_y, 200].tolist() == [0, 0, 0]
    qtbot.mouseClick(viewer, Qt.MouseButton.LeftButton)  # focus; a click alone must not pan
    assert state.geometry.pan_x == 0


def test_patient_list_shows_verdict_badges_and_drives_selection(qtbot, loaded_vm):
    plist = PatientList(loaded_vm)
    qtbot.addWidget(plist)
    assert plist.count() == 2
    # Without a patient temperature in the bundle the patient figure is a score, said so.
    assert plist.badge_text(0).startswith("Encephalocele") and "score 0.80" in plist.badge_text(0)
    assert plist.badge_text(1).startswith("Normal")
    plist.setCurrentRow(1)
    assert loaded_vm.patient_index == 1
    loaded_vm.set_deidentified(True)
    assert plist.item(0).text() == "Case 1"


def test_thumbnails_show_top_class_and_cine_mean(qtbot, loaded_vm):
    from desktop.widgets.thumbnails import IMAGE_ROLE

    strip = ThumbnailStrip(loaded_vm)
    qtbot.addWidget(strip)
    assert strip.count() == 1 and strip.prediction_label(0) == "Encephalocele / meningocele 80%"
    assert qimage_to_array(strip.item(0).data(IMAGE_ROLE))[0].min() == 250
    loaded_vm.set_deidentified(True)  # the burned-in header band is masked in thumbnails too
    assert qimage_to_array(strip.item(0).data(IMAGE_ROLE))[0].max() == 0
    loaded_vm.select_patient(1)
    assert strip.count() == 1 and strip.prediction_label(0) == "Normal 90%"


def test_results_panel_shows_image_bars_verdict_rule_and_drivers(qtbot, loaded_vm):
    panel = ResultsPanel(loaded_vm)
    qtbot.addWidget(panel)
    assert panel.image_bars.probs[2] == pytest.approx(0.8)
    assert panel.verdict_title.text().startswith("Encephalocele")
    rule = panel.verdict_rule.text()
    assert "mean softmax" in rule and "1 view (1 frame)" in rule
    assert "single view" in rule and "score" in rule  # flagged; not calibrated on patients
    loaded_vm.select_patient(1)
    # This patient is one cine: one view, so one driver (its best frame), not 3 of its frames.
    assert panel.drivers.count() == 1
    assert "[" in panel.drivers.item(0).text()  # names the frame
    with qtbot.waitSignal(panel.driver_clicked) as blocker:
        panel.drivers.itemClicked.emit(panel.drivers.item(0))
    loaded_vm.select_image(blocker.args[0])
    assert loaded_vm.current_ref.key == blocker.args[0]


def test_results_panel_fits_its_dock_with_a_long_verdict(qtbot, loaded_vm):
    """The verdict "Encephalocele / meningocele  score 0.98" in the large title font was once
    wider than the 370-px dock: the panel grew past the scroll area's viewport and every bar's
    percentage was clipped off the right edge."""
    from PySide6.QtWidgets import QScrollArea

    from desktop.theme import _STYLESHEET

    scroll = QScrollArea()
    scroll.setStyleSheet(_STYLESHEET)  # the app's 17-px bold verdict title
    panel = ResultsPanel(loaded_vm)
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    qtbot.addWidget(scroll)
    scroll.resize(340, 700)
    scroll.show()
    qtbot.waitExposed(scroll)
    assert "Encephalocele" in panel.verdict_title.text()
    # The panel can always be as narrow as the viewport (else the scroll area widens it).
    assert panel.minimumSizeHint().width() <= scroll.viewport().width()


@pytest.fixture
def outside_vm(qtbot):
    """Patient C: two images the model cannot assess (a colour Doppler still, an image unlike
    the training data), one of them with a confident class output."""
    refs = (
        ImageRef(Path("/s/C/doppler.png"), patient_id="C"),
        ImageRef(Path("/s/C/odd.png"), patient_id="C"),
    )
    vm = CohortViewModel()
    vm.set_cohort(Cohort("/s", (Patient("C", refs),)))
    vm.set_model_classes(CLASSES, "geometric_mean")
    vm.set_pixels("C", PatientPixels(images={r.key: _image(r) for r in refs}))
    vm.set_predictions(
        "C",
        [
            fake_prediction(refs[0], [0.1, 0.1, 0.1, 0.6, 0.1], outside="not_bmode"),
            fake_prediction(
                refs[1], [0.005, 0.005, 0.005, 0.005, 0.98], outside="out_of_distribution"
            ),
        ],
    )
    return vm


def test_images_outside_the_validated_domain_get_grey_badges_and_no_class(qtbot, outside_vm):
    plist, strip, panel = (
        PatientList(outside_vm),
        ThumbnailStrip(outside_vm),
        ResultsPanel(outside_vm),
    )
    for w in (plist, strip, panel):
        qtbot.addWidget(w)
    assert plist.badge_text(0) == "Not assessable"
    assert (
        strip.prediction_label(0) == "Not assessable"
        and strip.prediction_label(1) == "Not assessable"
    )
    assert panel.verdict_title.text() == "Not assessable" and panel.patient_bars.probs is None
    assert "none of the 2 images" in panel.verdict_rule.text().lower()
    # The current image: why, in grey; its class output hidden until asked for.
    assert panel.image_bars.probs is None
    assert "Outside what this model was validated for: not B-mode" in panel.image_note.text()
    assert not panel.show_anyway.isHidden()
    panel.show_anyway.click()
    assert panel.image_bars.probs is not None and "not a finding" in panel.image_note.text()
    assert panel.show_anyway.isHidden()
    outside_vm.select_image(outside_vm.current_patient.images[1].key)
    assert panel.image_bars.probs is None  # revealing one image reveals only that one


def test_viewer_draws_no_heatmap_for_an_image_it_cannot_assess(qtbot, outside_vm):
    pane, _ = _viewer_pane(qtbot, outside_vm)
    pane.state.set_heatmap_on(True)
    assert pane.viewer.heatmap_identity is None
    assert any("Not assessable" in line for line in pane.presenter.corner_text(None)["tr"])
    outside_vm.reveal(outside_vm.current_ref)
    assert pane.viewer.heatmap_identity is not None


def test_heatmap_of_an_unlikely_class_is_drawn_faintly(qtbot, loaded_vm):
    pane, _ = _viewer_pane(qtbot, loaded_vm)
    pane.state.set_heatmap_on(True)
    predicted = pane.viewer.heatmap_identity
    pane.state.set_heatmap_class(0)  # normal: 5 % against 80 % for the predicted class
    faint = pane.viewer.heatmap_identity
    assert predicted[-1] == 1.0 and faint[-1] == pytest.approx(0.05 / 0.8, abs=1e-3)
    assert any("Heatmap: Normal 5.0%" in line for line in pane.presenter.corner_text(0)["tr"])


def test_error_list_respects_deidentified_mode(qtbot, loaded_vm):
    from core.records import FileError

    errors = ErrorList(loaded_vm)
    qtbot.addWidget(errors)
    loaded_vm.add_errors([FileError("/s/DOE_JANE/x.dcm", "truncated pixel data")])
    assert "DOE_JANE" in errors.item(0).text()
    loaded_vm.set_deidentified(True)
    assert (
        "DOE_JANE" not in errors.item(0).text() and "truncated pixel data" in errors.item(0).text()
    )


def test_cine_bar_plays_at_the_files_frame_rate_and_scrubs(qtbot, loaded_vm):
    from PySide6.QtWidgets import QWidget

    state, parent = ViewerState(), QWidget()
    qtbot.addWidget(parent)
    bar = CineBar(loaded_vm, state, parent)
    parent.show()
    assert not bar.isVisible()  # patient A has no cine
    loaded_vm.select_patient(1)
    assert bar.isVisible() and bar.slider.maximum() == 3
    state.set_cine_playing(True)
    assert bar.timer.isActive() and bar.timer.interval() == 20
    qtbot.waitUntil(lambda: loaded_vm.frame_index >= 2, timeout=2000)
    state.set_cine_playing(False)
    assert not bar.timer.isActive()
    bar.slider.setValue(1)
    assert loaded_vm.frame_index == 1


def test_heatmap_controls_follow_and_set_the_state(qtbot, loaded_vm):
    state = ViewerState()
    controls = HeatmapControls(loaded_vm, state)
    qtbot.addWidget(controls)
    assert controls.class_box.count() == 1 + len(CLASSES)
    state.toggle_heatmap()
    assert controls.toggle.isChecked()
    controls.class_box.setCurrentIndex(3)
    assert state.heatmap_class == 2
    controls.opacity.setValue(80)
    assert state.opacity == pytest.approx(0.8)


def _viewer_pane(qtbot, vm):
    """The shared viewer pane over ``vm``, with a pipeline whose extra heatmaps never arrive."""
    from PySide6.QtCore import QObject, Signal

    from desktop.viewer_pane import ViewerPane

    class FakePipeline(QObject):
        model_changed = Signal(object)
        extra_heatmap_ready = Signal(object)
        extra_heatmap_failed = Signal(str)
        extra_cams: dict = {}

        def request_extra_heatmap(self, ref, class_index, method):
            return False  # on its way

    pipeline = FakePipeline()
    pane = ViewerPane(vm, pipeline)
    qtbot.addWidget(pane)
    pane.resize(640, 480)
    pane.show()
    return pane, pipeline


def test_viewer_pane_wires_viewer_bars_and_presenter(qtbot, loaded_vm):
    """The part both windows embed: the heatmap bar drives the viewer through the presenter,
    the presenter's notes reach the bar, and a new model's classes reach the class list."""
    from desktop.viewer_pane import ViewerPane

    pane, pipeline = _viewer_pane(qtbot, loaded_vm)
    assert pane.banner is not None and "not for diagnosis" in pane.banner.text()
    assert not pane.viewer.heatmap_visible
    pane.heatmap_controls.toggle.click()
    assert pane.state.heatmap_on and pane.viewer.heatmap_visible
    pane.heatmap_controls.method_box.setCurrentIndex(
        pane.heatmap_controls.method_box.findData("gradcam++")
    )
    assert pane.heatmap_controls.note.text() == "computing Grad-CAM++…"
    loaded_vm.class_names = CLASSES[:3]
    pipeline.model_changed.emit(None)
    assert pane.heatmap_controls.class_box.count() == 1 + 3
    assert ViewerPane(loaded_vm, pipeline, with_banner=False).banner is None
