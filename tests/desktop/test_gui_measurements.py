"""Measuring in the app (issue 12): draw with the mouse on the viewer, mm from the image's
calibration, px outside it, edit, relabel, delete, the sidecar file with the study."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from core.measurements import sidecar
from core.measurements.calibration import Calibration, RegionCalibration
from core.measurements.measure import Measurement
from core.records import Cohort, ImageRef, LoadedImage, Patient
from desktop.viewmodels.cohort import CohortViewModel, PatientPixels
from desktop.viewmodels.measurements import MeasurementsViewModel
from desktop.viewmodels.viewer import ViewerState
from desktop.widgets.measure_tool import MeasureTool
from desktop.widgets.measurement_panel import MeasurementPanel
from desktop.widgets.viewer import ImageViewer

# A 200 x 100 image; its left half (x < 100) is an ultrasound region at 0.5 mm per pixel.
REGION = RegionCalibration((0, 0, 100, 100), "cm", "cm", 0.05, 0.05, 1)
CALIBRATED = Calibration((REGION,))


def _setup(qtbot, tmp_path, calibration=CALIBRATED):
    study = tmp_path / "study"
    (study / "P1").mkdir(parents=True, exist_ok=True)
    (study / "Q2").mkdir(parents=True, exist_ok=True)
    ref = ImageRef(study / "P1" / "a.dcm", patient_id="P1", ga_weeks=22.0)
    other = ImageRef(study / "Q2" / "b.dcm", patient_id="P1")
    vm = CohortViewModel()
    mvm = MeasurementsViewModel(vm)
    vm.set_cohort(Cohort(str(study), (Patient("P1", (ref, other)),)))
    image = LoadedImage(
        ref=ref, pixels=np.full((100, 200, 3), 80, np.uint8), calibration=calibration
    )
    vm.set_pixels("P1", PatientPixels(images={ref.key: image}))
    state = ViewerState()
    viewer = ImageViewer(state)
    viewer.measure_tool = MeasureTool(vm, mvm)
    mvm.changed.connect(lambda _k: viewer.update())
    qtbot.addWidget(viewer)
    viewer.resize(408, 260)  # fit scale 2
    viewer.set_image(image)
    viewer.show()
    qtbot.waitExposed(viewer)
    return vm, mvm, viewer, ref, study


def _at(viewer, x, y) -> QPoint:
    """The widget position of image pixel edge (x, y)."""
    return viewer.image_transform().map(QPointF(x, y)).toPoint()


def _drag(qtbot, viewer, start, end):
    qtbot.mousePress(viewer, Qt.MouseButton.LeftButton, pos=start)
    for t in (0.3, 0.6, 1.0):
        p = QPointF(start) + (QPointF(end) - QPointF(start)) * t
        qtbot.mouseMove(viewer, pos=p.toPoint())
    qtbot.mouseRelease(viewer, Qt.MouseButton.LeftButton, pos=end)


def test_a_caliper_drawn_in_the_region_reads_mm_and_is_saved(qtbot, tmp_path):
    vm, mvm, viewer, ref, study = _setup(qtbot, tmp_path)
    assert viewer.fit_scale() == pytest.approx(2.0)
    mvm.set_tool("BPD")
    _drag(qtbot, viewer, _at(viewer, 10, 50), _at(viewer, 90, 50))
    (m,) = mvm.measurements(ref)
    assert m.kind == "BPD" and m.points[0] == pytest.approx((10, 50), abs=0.6)
    result = mvm.result(ref, m)
    assert result.unit == "mm" and result.value == pytest.approx(40.0, abs=0.6)  # 80 px x 0.5
    assert result.centile is not None  # at the patient's GA (22 w)
    saved = json.loads((study / sidecar.SIDECAR_NAME).read_text())
    entry = saved["images"]["P1/a.dcm"][0]
    assert entry["kind"] == "BPD" and entry["unit"] == "mm"
    assert entry["value"] == pytest.approx(40.0, abs=0.6)
    # Drag its end handle: the measurement follows and is saved on release.
    _drag(qtbot, viewer, _at(viewer, 90, 50), _at(viewer, 70, 50))
    (moved,) = mvm.measurements(ref)
    assert moved.id == m.id and mvm.result(ref, moved).value == pytest.approx(30.0, abs=0.6)
    assert json.loads((study / sidecar.SIDECAR_NAME).read_text())["images"]["P1/a.dcm"][0][
        "value"
    ] == pytest.approx(30.0, abs=0.6)
    # A click is not a measurement.
    qtbot.mouseClick(viewer, Qt.MouseButton.LeftButton, pos=_at(viewer, 40, 20))
    assert len(mvm.measurements(ref)) == 1
    # Delete removes the selected one.
    mvm.select(m.id)
    qtbot.keyClick(viewer, Qt.Key.Key_Delete)
    assert mvm.measurements(ref) == []


def test_outside_the_region_the_caliper_reads_pixels_and_says_why(qtbot, tmp_path):
    vm, mvm, viewer, ref, _study = _setup(qtbot, tmp_path)
    mvm.set_tool("distance")
    _drag(qtbot, viewer, _at(viewer, 120, 50), _at(viewer, 180, 50))  # right half: no region
    (m,) = mvm.measurements(ref)
    result = mvm.result(ref, m)
    assert result.unit == "px" and result.value == pytest.approx(60, abs=0.6)
    assert "outside the calibrated ultrasound region" in result.scale.reason
    assert result.ga is None


def test_an_ellipse_gives_hc_and_its_ga_and_the_panel_lists_edits_and_deletes(qtbot, tmp_path):
    vm, mvm, viewer, ref, study = _setup(qtbot, tmp_path)
    panel = MeasurementPanel(vm, mvm)
    qtbot.addWidget(panel)
    panel.tool_buttons["HC"].click()
    assert mvm.tool == "HC"
    _drag(qtbot, viewer, _at(viewer, 5, 50), _at(viewer, 95, 50))  # the long axis, 90 px = 45 mm
    (m,) = mvm.measurements(ref)
    assert m.kind == "HC" and len(m.points) == 3
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1)
    kind, value, details = panel.values()[0]
    assert kind == "HC" and value.endswith(" mm") and "INTERGROWTH-21st HC" in details
    # Relabel through the panel (an ellipse can only be an ellipse kind) and delete.
    combo = panel.table.cellWidget(0, 0)
    combo.setCurrentIndex(combo.findData("ellipse"))
    assert mvm.measurements(ref)[0].kind == "ellipse"
    qtbot.waitUntil(lambda: panel.values()[0][0] == "ellipse")
    panel.table.cellWidget(0, 3).click()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0)
    assert mvm.measurements(ref) == []
    assert json.loads((study / sidecar.SIDECAR_NAME).read_text())["images"] == {}
    panel.tool_buttons["HC"].click()  # a second click turns the tool off
    assert mvm.tool is None


def test_measurements_come_back_when_the_study_is_opened_again(qtbot, tmp_path):
    vm, mvm, viewer, ref, study = _setup(qtbot, tmp_path)
    mvm.add(ref, Measurement("TCD", ((10, 10), (50, 10))))
    again = CohortViewModel()
    mvm2 = MeasurementsViewModel(again)
    again.set_cohort(vm.cohort)
    (m,) = mvm2.measurements(ref)
    assert m.kind == "TCD" and m.points == ((10.0, 10.0), (50.0, 10.0))


def test_an_unreadable_sidecar_is_kept_and_said_so(qtbot, tmp_path):
    study = tmp_path / "study"
    (study / "P1").mkdir(parents=True)
    (study / sidecar.SIDECAR_NAME).write_text("{broken")
    vm, mvm, viewer, ref, _ = _setup(qtbot, tmp_path)
    assert "cannot read the measurements file" in mvm.error
    messages = []
    mvm.message.connect(messages.append)
    mvm.add(ref, Measurement("CM", ((10, 10), (20, 10))))
    assert (study / f"{sidecar.SIDECAR_NAME}.unreadable-1").read_text() == "{broken"
    assert any("unreadable-1" in m for m in messages) and mvm.error == ""
    assert sidecar.load(study / sidecar.SIDECAR_NAME)["P1/a.dcm"][0].kind == "CM"


def test_a_save_that_fails_keeps_the_measurement_and_says_why(qtbot, tmp_path, monkeypatch):
    vm, mvm, viewer, ref, study = _setup(qtbot, tmp_path)

    def refuse(*_args, **_kwargs):
        raise sidecar.MeasurementFileError(f"{study}: cannot save the measurements: disk full")

    monkeypatch.setattr(sidecar, "save", refuse)
    mvm.add(ref, Measurement("OFD", ((10, 10), (60, 10))))
    assert len(mvm.measurements(ref)) == 1 and "disk full" in mvm.error


def test_non_square_pixels_are_shown_stretched(qtbot, tmp_path):
    vm, mvm, viewer, ref, _ = _setup(qtbot, tmp_path, Calibration(aspect_ratio=(2.0, 1.0)))
    assert viewer.pixel_aspect() == 2.0
    top_left = viewer.image_transform().map(QPointF(0, 0))
    bottom_right = viewer.image_transform().map(QPointF(200, 100))
    width, height = bottom_right.x() - top_left.x(), bottom_right.y() - top_left.y()
    assert height / width == pytest.approx(1.0)  # 200 x 100 pixels, each twice as tall as wide


# ----- the real window on a phantom DICOM study ---------------------------------------------------
def test_measurements_in_the_window_reach_the_csv_and_the_report(
    qtbot, opened_phantom_window, tmp_path
):
    import csv

    from desktop.measurement_export import report_measurements

    win, study = opened_phantom_window
    image = win.vm.current_image
    assert image.calibration is not None and image.calibration.regions  # phantom US region
    x0, y0, x1, y1 = image.calibration.regions[0].box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ref = win.vm.current_ref
    win.measurements.add(ref, Measurement("HC", ((cx - 30, cy), (cx + 30, cy), (cx, cy + 24))))
    win.measurements.add(ref, Measurement("distance", ((1, 1), (11, 1))))  # outside: px
    assert (study / sidecar.SIDECAR_NAME).is_file()
    qtbot.waitUntil(lambda: win.measurement_panel.table.rowCount() == 2)
    out = tmp_path / "preds.csv"
    win.export_csv(out)
    rows = list(csv.DictReader((tmp_path / "preds_measurements.csv").open()))
    assert [(r["measurement"], r["unit"]) for r in rows] == [("HC", "mm"), ("distance", "px")]
    assert rows[0]["ga"] and rows[0]["ga_chart"] == "INTERGROWTH-21st HC"
    assert rows[1]["scale"].startswith("px: outside")
    printed = report_measurements(win.vm, win.measurements)
    assert [m.kind for m in printed] == ["HC", "distance"] and printed[0].value.endswith("mm")
    pdf = tmp_path / "report.pdf"
    win.export_report(pdf)
    qtbot.waitUntil(lambda: pdf.is_file() and win.last_export == [pdf], timeout=120_000)
    win.vm.set_deidentified(True)
    win.export_csv(out)
    rows = list(csv.DictReader((tmp_path / "preds_measurements.csv").open()))
    assert rows[0]["patient_id"] == "Case 1" and str(study) not in rows[0]["image"]
