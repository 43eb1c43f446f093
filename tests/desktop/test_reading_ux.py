# ruff: noqa: F811 - the reading-mode fixtures are imported, then named as test arguments
"""Reading UX (issue 11, item 2): the "Reader study" entry of the main window, start-up errors
corrected in the dialog, confirming a self-contradicting decision, the loading state, the
sequential design's final read and practice feedback - offscreen, with the tiny bundle."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from core.bundle import read_card
from core.readerstudy import reads_rows
from core.readerstudy.protocol import create_protocol, save_protocol
from core.taxonomy import DEFAULT_CLASS_NAMES
from desktop.app import main
from desktop.reading.controller import contradiction
from desktop.reading.start import ENTRY_TEXT, ReaderStudyDialog
from desktop.reading.window import ReadingWindow
from tests.desktop.test_reading_mode import (  # noqa: F401 - fixtures
    DEMO,
    WAIT_MS,
    decide,
    demo_patients,
    open_window,
    study,
)


def _study(tmp_path, patients, bundle, **kw):
    protocol = create_protocol(
        patients, data=str(DEMO / "manifest.csv"), readers=["R1", "R2"],
        class_names=DEFAULT_CLASS_NAMES, washout_days=0.0,
        model={"path": str(bundle), "weights_sha256": read_card(bundle).weights_sha256}, **kw,
    )  # fmt: skip
    save_protocol(protocol, tmp_path / "study")
    return tmp_path / "study"


def _answer_next_question(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """When the reading window asks to confirm, note the question and press ``button``."""

    def poll():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, poll)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, poll)


def test_contradiction_rule():
    assert contradiction("normal", 50, "normal") and contradiction("normal", 80, "normal")
    assert not contradiction("normal", 49, "normal")
    assert contradiction("anencephaly", 49, "normal") and not contradiction(
        "anencephaly", 50, "normal"
    )


def test_a_contradicting_decision_asks_and_no_keeps_the_case(qtbot, study, open_window):
    win = open_window(study, "R1")
    c, panel = win.controller, win.decision_panel
    case = c.state.case.case_id
    panel.class_button("normal").click()
    panel.spin.setValue(80)  # normal, yet 80 that the case is abnormal
    seen: list[str] = []
    _answer_next_question(QMessageBox.StandardButton.No, seen)
    panel.submit.click()
    assert "Normal but a confidence of 80" in seen[0]
    assert c.state.case.case_id == case and reads_rows(study)[0] == []  # nothing recorded
    assert win.decision.class_call == "normal" and win.decision.rating == 80  # answer kept
    _answer_next_question(QMessageBox.StandardButton.Yes, seen)
    with qtbot.waitSignal(c.case_ready, timeout=WAIT_MS):
        panel.submit.click()
    assert len(seen) == 2 and reads_rows(study)[0][0]["rating"] == 80.0
    decide(qtbot, win, "normal", 20)  # consistent: no question
    assert len(seen) == 2


def test_keys_pressed_while_a_case_loads_are_answered_not_lost(qtbot, study, open_window):
    win = open_window(study, "R1", wait_ready=False)
    assert win.loading and win.pages.currentWidget() is win.loading_page
    assert not win.decision_panel.isEnabled()
    assert not win.actions_by_name["class_1"].isEnabled()
    assert not win.actions_by_name["submit"].isEnabled()
    assert "decision controls open when the case is on screen" in win.loading_page.text()
    qtbot.keyClick(win, "2")
    assert "the key 2 was not taken" in win.loading_page.text()
    assert win.decision.class_call is None
    qtbot.waitUntil(lambda: not win.loading, timeout=WAIT_MS)
    assert win.decision_panel.isEnabled() and win.actions_by_name["class_1"].isEnabled()
    qtbot.keyClick(win.pane.viewer, "2")
    assert win.decision.class_call == DEFAULT_CLASS_NAMES[1]


def test_sequential_final_read_starts_from_the_first_and_logs_the_ai_shown(
    qtbot, tmp_path, demo_patients, tiny_bundle, open_window
):
    study = _study(tmp_path, demo_patients, tiny_bundle, design="sequential")
    win = open_window(study, "R1")
    c = win.controller
    assert c.state.read == "first" and not c.ai_allowed and win.ai_panel.isHidden()
    assert (
        "first read, without AI" in win.header.text() and "AI output comes" in win.read_note.text()
    )
    case = c.state.case.case_id
    with qtbot.waitSignal(c.case_ready, timeout=WAIT_MS):
        decide(qtbot, win, "anencephaly", 70)
    assert c.state.read == "final" and c.state.case.case_id == case and c.ai_allowed
    assert win.ai_panel.isVisible() and "final read, with AI" in win.header.text()
    assert "Your first read: Anencephaly, confidence 70" in win.read_note.text()
    assert (win.decision.class_call, win.decision.rating) == ("anencephaly", 70)  # kept as given
    with qtbot.waitSignal(c.decided, timeout=WAIT_MS):
        win.decision_panel.submit.click()  # unchanged
    rows = reads_rows(study)[0]
    final = next(r for r in rows if r["read"] == "final")
    verdict = c.vm.verdict(case)
    assert final["changed_after_ai"] == "0" and final["ai_class"] == verdict.pred
    assert 0 <= float(final["ai_rating"]) <= 100


def test_practice_cases_show_the_truth_after_the_decision(
    qtbot, tmp_path, demo_patients, tiny_bundle, open_window
):
    study = _study(tmp_path, demo_patients, tiny_bundle, practice=1)
    win = open_window(study, "R1")
    c = win.controller
    assert c.state.practice and win.header.text().startswith("Practice")
    truth = c.session.protocol.case(c.state.case.case_id).truth
    with qtbot.waitSignal(c.case_ready, timeout=WAIT_MS):
        decide(qtbot, win, truth if truth != "normal" else "anencephaly", 80)
    assert win.feedback.isVisible() and "the truth is" in win.feedback.text()
    assert not c.state.practice  # the study cases follow; no truth for them
    decide(qtbot, win, "anencephaly", 80)
    assert win.feedback.isHidden()
    assert reads_rows(study)[0] and all(not r["case"].startswith("P") for r in reads_rows(study)[0])


def test_cnsight_without_a_study_offers_the_reader_study_entry(qtbot, study, monkeypatch):
    """cnsight -> File > Reader study… -> folder and reader -> the reading window."""
    from desktop.app import _application, _build
    from desktop.settings import AppSettings

    _application()
    from PySide6.QtCore import QSettings

    settings = AppSettings(QSettings(str(study.parent / "s.ini"), QSettings.Format.IniFormat))
    session, window = _build(settings)
    qtbot.addWidget(window)
    action = window.actions_by_name["reader_study"]
    assert action.text() == ENTRY_TEXT
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    assert action in file_menu.actions()

    def fill():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ReaderStudyDialog):
            QTimer.singleShot(20, fill)
            return
        dialog.folder.setText(str(study))
        dialog._fill_readers()
        assert [dialog.reader.itemText(i) for i in range(dialog.reader.count())] == ["R1", "R2"]
        dialog.reader.setCurrentText("R9")
        dialog.start()  # refused in the dialog, which stays open
        assert "'R9' is not enrolled" in dialog.error.text() and dialog.isVisible()
        dialog.reader.setCurrentText("R2")
        dialog.start()

    QTimer.singleShot(0, fill)
    action.trigger()
    reading = window.reading_window
    assert isinstance(reading, ReadingWindow) and reading.controller.session.reader == "R2"
    qtbot.addWidget(reading)
    qtbot.waitUntil(
        lambda: reading.controller.state is not None and not reading.loading, timeout=WAIT_MS
    )
    reading.close()
    session.shutdown()


def test_a_startup_error_corrected_in_the_dialog_goes_on_reading(qtbot, study):
    def correct():
        dialog = next((w for w in QApplication.topLevelWidgets() if isinstance(w, ReaderStudyDialog) and w.isVisible()), None)  # fmt: skip
        if dialog is None:
            QTimer.singleShot(20, correct)
            return
        assert "'R9' is not enrolled" in dialog.error.text()
        dialog.reader.setCurrentText("R1")
        dialog.start()
        QTimer.singleShot(0, close_reading)

    def close_reading():
        window = next((w for w in QApplication.topLevelWidgets() if isinstance(w, ReadingWindow) and w.isVisible()), None)  # fmt: skip
        if window is None or window.controller.state is None:
            QTimer.singleShot(50, close_reading)
            return
        window.close()

    QTimer.singleShot(0, correct)
    assert main(["--study", str(study), "--reader", "R9", "--device", "cpu"]) == 0
    assert (study / "reads" / "R1.sqlite").exists()
