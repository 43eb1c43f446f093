"""Layout defects a radiologist saw (issue 12), each pinned by widget geometry offscreen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication, QWidget

from core.records import Cohort, ImageRef, LoadedImage, Patient
from desktop.viewmodels.cohort import CohortViewModel, PatientPixels
from tests.support.gui import fake_prediction

CLASSES = ("normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis")


def test_a_long_heatmap_note_never_widens_the_window(qtbot, main_window):
    window = main_window
    """Choosing Grad-CAM++ showed "computing Grad-CAM++…" and widened the window 1440 -> 1481 px
    (saved so in the settings), cutting off the results panel's percentages."""
    before = window.width()
    for method in ("gradcam++", "scorecam", "layercam"):
        window.pane.heatmap_controls.set_note(
            f"computing {method}… this can take a while on a CPU, the map appears when ready"
        )
        qtbot.wait(20)
        QApplication.processEvents()
        assert window.width() == before == 1440
        assert window.minimumSizeHint().width() <= 1440
    results = window.results
    viewport = results.parentWidget()  # the scroll area's viewport
    assert results.width() <= viewport.width()  # nothing of the bars (their %) is cut off
    label = window.pane.heatmap_controls.note
    assert label.shown_text().endswith("…") and label.toolTip().startswith("computing")


def _vm_with_long_verdicts() -> CohortViewModel:
    refs = [ImageRef(Path(f"/s/PH2-0005/img{i}.png"), patient_id="PH2-0005") for i in range(3)]
    vm = CohortViewModel()
    vm.set_cohort(Cohort("/s", (Patient("PH2-0005", tuple(refs)),)))
    vm.set_model_classes(CLASSES, "mean_softmax")
    pixels = np.full((60, 80, 3), 90, np.uint8)
    vm.set_pixels(
        "PH2-0005",
        PatientPixels(
            images={r.key: LoadedImage(ref=r, pixels=pixels) for r in refs},
            thumbnails={str(r.path): pixels[:30, :40] for r in refs},
        ),
    )
    probs = [0.0002, 0.9996, 0.0001, 0.0001, 0.0000]  # "Holoprosencephaly  score > 0.99" long
    vm.set_predictions("PH2-0005", [fake_prediction(r, probs[::-1]) for r in refs])
    return vm


def test_a_long_verdict_badge_leaves_the_patient_id_whole(qtbot):
    from desktop.widgets.patient_list import PatientList

    vm = _vm_with_long_verdicts()
    plist = PatientList(vm)
    qtbot.addWidget(plist)
    plist.resize(260, 300)
    plist.show()
    qtbot.waitExposed(plist)
    assert len(plist.badge_text(0)) > 20  # a long badge
    row = plist.row_layout(0)
    assert row.title == "PH2-0005"  # not "PH2…005"
    assert row.badge_rect.width() >= QFontMetrics(row.badge_font).horizontalAdvance(row.badge)
    assert not row.badge_rect.intersects(row.title_rect)
    assert plist.viewport().rect().contains(row.badge_rect)


@pytest.mark.parametrize("width", [230, 260, 320])
def test_thumbnail_label_never_cuts_the_percentage(qtbot, width):
    from desktop.widgets.thumbnails import ThumbnailStrip

    vm = _vm_with_long_verdicts()
    strip = ThumbnailStrip(vm)
    qtbot.addWidget(strip)
    strip.resize(width, 300)
    strip.show()
    qtbot.waitExposed(strip)
    assert strip.prediction_label(0).endswith("%")
    lines = strip.label_lines(0)
    assert lines.prediction.endswith("%")  # the figure is whole, the name shortened if need be
    bold = QFont(strip.font())
    bold.setBold(True)
    assert QFontMetrics(bold).horizontalAdvance(lines.prediction) <= lines.width


def test_decision_panel_does_not_jump_when_its_hint_wraps(qtbot):
    from desktop.viewmodels.decision import DecisionState
    from desktop.widgets.decision_panel import DecisionPanel

    decision = DecisionState()
    decision.reset(CLASSES)
    panel = DecisionPanel(decision)
    holder = QWidget()
    holder.resize(340, 700)
    panel.setParent(holder)
    panel.setFixedWidth(340)
    qtbot.addWidget(holder)
    holder.show()
    qtbot.waitExposed(holder)
    heights, hints = set(), []
    for step in (
        lambda: None,  # "Choose a class."
        lambda: decision.set_class("normal"),  # the long hint, two lines at this width
        lambda: decision.set_rating(30),  # no hint
        lambda: decision.set_busy(True),  # "Recording…"
    ):
        step()
        QApplication.processEvents()
        hints.append(panel.hint.text())
        heights.add(panel.sizeHint().height())
    assert len(set(hints)) == 4
    assert len(heights) == 1, f"the panel's height changes with its hint: {sorted(heights)}"


def test_one_patient_id_with_two_studies_reads_as_two_distinct_rows(qtbot):
    from desktop.widgets.patient_list import PatientList

    a = ImageRef(Path("/s/a.dcm"), patient_id="P7", study_uid="1.1")
    b = ImageRef(Path("/s/b.dcm"), patient_id="P7", study_uid="1.2")
    vm = CohortViewModel()
    vm.set_cohort(Cohort("/s", (Patient("P7", (a,), "1.1"), Patient("P7", (b,), "1.2"))))
    plist = PatientList(vm)
    qtbot.addWidget(plist)
    labels = [plist.item(i).text() for i in range(plist.count())]
    assert labels == ["P7 · study 1 of 2", "P7 · study 2 of 2"]
    vm.set_deidentified(True)
    assert [plist.item(i).text() for i in range(plist.count())] == ["Case 1", "Case 2"]
