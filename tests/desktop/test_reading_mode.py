"""Reader-study reading mode (``cnsight --study STUDY --reader R``), offscreen, on the bundled demo
study (5 DICOM patients) with the tiny bundle as the study's model.

The plan (seed 0): R1 reads unaided first, then aided; R2 aided first. washout_days=0 unless a
test needs the washout page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLabel, QListWidget

from core.bundle import read_card, seal_bundle
from core.bundle_seal import seal
from core.errors import BundleError, ReaderStudyError
from core.readerstudy import ReaderSession, reads_rows
from core.readerstudy.protocol import create_protocol, load_coordinator, save_protocol
from core.taxonomy import DEFAULT_CLASS_NAMES
from desktop import model_worker
from desktop.app import EXIT_USAGE, main
from desktop.reading.cases import open_reader_session, select_case_images
from desktop.reading.controller import ReadingController, study_model_factory
from desktop.reading.start import ReaderStudyDialog
from desktop.reading.window import ReadingWindow
from desktop.widgets.panels import TagView

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo_study"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def demo_patients():
    from core.discovery import discover

    return discover([DEMO / "manifest.csv"]).patients


def make_study(
    study_dir, patients, bundle, washout_days=0.0, data=None, sha=None, model=None
) -> Path:
    protocol = create_protocol(
        patients, data=str(data or DEMO / "manifest.csv"), readers=["R1", "R2"],
        class_names=DEFAULT_CLASS_NAMES, washout_days=washout_days,
        model=model or {"path": str(bundle), "weights_sha256": sha or read_card(bundle).weights_sha256},
    )  # fmt: skip
    save_protocol(protocol, study_dir)
    return study_dir


@pytest.fixture
def study(tmp_path, demo_patients, tiny_bundle) -> Path:
    return make_study(tmp_path / "study", demo_patients, tiny_bundle)


@pytest.fixture
def model_calls(monkeypatch):
    """Counts model loads and predictions in the model thread (the real loader underneath)."""
    calls = {"load": 0, "predict": 0}
    real = model_worker.load_predictor

    def load(path, device, backend="auto"):
        calls["load"] += 1
        predictor = real(path, device, backend)
        predict = predictor.predict

        def counted(*args, **kwargs):
            calls["predict"] += 1
            return predict(*args, **kwargs)

        predictor.predict = counted
        return predictor

    monkeypatch.setattr(model_worker, "load_predictor", load)
    return calls


def decide_with_core(study_dir, reader, n):
    """Decisions made earlier (e.g. in another sitting), straight through the core session."""
    with ReaderSession(study_dir, reader) as s:
        for _ in range(n):
            state = s.current()
            s.mark_shown(state)
            s.submit(state, "normal", 10, 1.0, ai=("normal", 20.0) if state.ai_allowed else None)


@pytest.fixture
def open_window(qtbot):
    windows = []

    def _open(study_dir, reader, wait_ready=True):
        controller = ReadingController(open_reader_session(study_dir, reader), device="cpu")
        win = ReadingWindow(controller)
        qtbot.addWidget(win)
        win.resize(1280, 800)
        win.show()
        windows.append(win)
        if wait_ready:
            with qtbot.waitSignal(controller.case_ready, timeout=WAIT_MS):
                controller.advance()
        else:
            controller.advance()
        return win

    yield _open
    for win in windows:
        win.close()


def plan(study_dir, reader):
    from core.readerstudy import load_protocol

    return load_protocol(study_dir)[0].plan(reader)


def decide(qtbot, win, class_name="anencephaly", rating=80, keyboard=False):
    """Answer the case on screen and submit: with the mouse, or with the keyboard only (digit key
    for the class, the rating typed into its box, Ctrl+Enter from there)."""
    panel, c = win.decision_panel, win.controller
    if keyboard:
        qtbot.keyClick(win.pane.viewer, str(c.protocol.class_names.index(class_name) + 1))
        panel.spin.setFocus()
        qtbot.keyClicks(panel.spin, str(rating))
    else:
        panel.class_button(class_name).click()
        panel.spin.setValue(rating)
    assert win.decision.class_call == class_name and win.decision.rating == rating
    with qtbot.waitSignals([c.decided], timeout=WAIT_MS):
        if keyboard:
            qtbot.keyClick(panel.spin, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        else:
            panel.submit.click()


def visible_texts(win) -> list[str]:
    """Everything a reader can read in the window: labels, buttons, lists, combos, title,
    menus and the viewer's corner annotations."""
    texts = [win.windowTitle(), *(a.text() for a in win.actions())]
    for widget in win.findChildren(QLabel) + win.findChildren(QAbstractButton):
        if widget.isVisible():
            texts.append(widget.text())
    for lst in win.findChildren(QListWidget):
        if lst.isVisible():
            texts += [lst.item(i).text() for i in range(lst.count())]
    for box in win.findChildren(QComboBox):
        if box.isVisible():
            texts += [box.itemText(i) for i in range(box.count())]
    texts += [line for lines in win.pane.viewer._corners.values() for line in lines]
    return texts


# ----- blinding ------------------------------------------------------------------------------
def test_unaided_case_has_no_ai_at_all(qtbot, study, model_calls, open_window):
    win = open_window(study, "R1")
    c = win.controller
    assert c.state.treatment == "unaided" and win.vm.current_image is not None
    qtbot.wait(300)  # give a stray prediction every chance to arrive
    assert model_calls == {"load": 0, "predict": 0} and c.model_service.model is None
    assert not c.pipeline.analysis_allowed and win.vm.predicted_image_count == 0
    for widget in (win.ai_panel, win.results, win.pane.heatmap_controls):
        assert not widget.isVisible() and not widget.isEnabled()
    heatmap = win.actions_by_name["heatmap"]
    assert not heatmap.isEnabled() and not heatmap.isVisible()
    qtbot.keyClick(win.pane.viewer, Qt.Key.Key_H)
    win._set_heatmap(True)  # even called directly, the heatmap stays off
    assert not win.state.heatmap_on and not win.pane.viewer.heatmap_visible
    assert all(win.thumbnails.prediction_label(r) == "" for r in range(win.thumbnails.count()))
    assert not any("AI" in t for t in visible_texts(win) if "no AI output" not in t)
    assert win.unaided_note.isVisible()


def test_aided_case_shows_the_study_models_results(qtbot, study, model_calls, open_window):
    win = open_window(study, "R2")
    c, vm = win.controller, win.vm
    assert c.state.treatment == "aided" and model_calls["load"] == 1
    verdict = vm.verdict(c.state.case.case_id)
    assert verdict is not None and model_calls["predict"] >= 1
    assert win.ai_panel.isVisible() and win.pane.heatmap_controls.isVisible()
    assert win.results.verdict_title.text().startswith(verdict.pred.capitalize()[:6])
    assert "%" in win.thumbnails.prediction_label(0) and not win.unaided_note.isVisible()
    assert "test-model" in win.model_label.text()
    # The heatmap's class list follows the model, loaded after the case was opened.
    assert win.pane.heatmap_controls.class_box.count() == 1 + len(vm.class_names) > 1
    qtbot.keyClick(win.pane.viewer, Qt.Key.Key_H)
    assert win.state.heatmap_on and win.pane.viewer.heatmap_visible


def test_aided_then_unaided_in_one_sitting_releases_the_model(
    qtbot, study, model_calls, open_window
):
    decide_with_core(study, "R2", 4)  # R2's aided block: 4 of 5 done earlier
    win = open_window(study, "R2")
    assert win.controller.state.position == 5 and model_calls["load"] == 1
    predictions = model_calls["predict"]
    with qtbot.waitSignal(win.controller.case_ready, timeout=WAIT_MS):
        decide(qtbot, win)
    c = win.controller
    assert c.state.treatment == "unaided" and c.state.block_index == 1
    qtbot.wait(300)
    assert model_calls["predict"] == predictions and c.model_service.model is None
    assert not win.ai_panel.isVisible() and win.vm.predicted_image_count == 0


def test_a_bundle_that_is_not_the_protocols_model_is_refused(
    qtbot, tmp_path, demo_patients, tiny_bundle, model_calls, open_window
):
    study = make_study(tmp_path / "s", demo_patients, tiny_bundle, sha="0" * 64)
    win = open_window(study, "R2", wait_ready=False)
    qtbot.waitUntil(lambda: win.pages.currentWidget() is win.message_page, timeout=WAIT_MS)
    assert "not the study's model" in win.message_text.text()
    assert model_calls["load"] == 0 and win.controller.model_service.model is None


def _pinned_model(bundle) -> dict:
    card = read_card(bundle)
    return {
        "path": str(bundle),
        "seal_sha256": card.seal_sha256,
        "weights_sha256": card.weights_sha256,
    }


def _reorder_classes(bundle, reseal: bool) -> None:
    """Swap the first two class names (weights untouched): the audit's 'normal 1.000' attack,
    by a careless edit (no re-seal) or by someone who has the seal tool (re-sealed)."""
    path = bundle / "model_card.json"
    card = json.loads(path.read_text())
    names = card["class_names"]
    names[0], names[1] = names[1], names[0]
    path.write_text(json.dumps(seal(card) if reseal else card))


@pytest.mark.parametrize("reseal", [False, True], ids=["edited", "edited-and-resealed"])
def test_the_reading_mode_refuses_the_study_model_with_a_reordered_class_list(
    qtbot, tmp_path, demo_patients, tiny_bundle, model_calls, open_window, reseal
):
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    study = make_study(tmp_path / "s", demo_patients, bundle, model=_pinned_model(bundle))
    _reorder_classes(bundle, reseal)
    with pytest.raises(
        BundleError, match="not the study's model" if reseal else "does not match its seal"
    ):
        study_model_factory(_pinned_model(tiny_bundle) | {"path": str(bundle)})(bundle, "cpu")
    win = open_window(study, "R2", wait_ready=False)  # R2 reads aided first
    qtbot.waitUntil(lambda: win.pages.currentWidget() is win.message_page, timeout=WAIT_MS)
    assert "AI model cannot be used" in win.message_text.text()
    assert model_calls["load"] == 0 and win.controller.model_service.model is None


def test_the_reading_mode_loads_the_pinned_model_and_requires_the_named_signer(
    tmp_path, tiny_bundle
):
    from core.bundle_seal import generate_signing_key, load_signing_key

    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    pinned = _pinned_model(bundle)
    predictor = study_model_factory(pinned)(bundle, "cpu")
    assert predictor.bundle.card.seal_sha256 == pinned["seal_sha256"]
    predictor.close()
    with pytest.raises(BundleError, match="not signed by the key the study names"):
        study_model_factory(pinned | {"signer": "0123456789abcdef"})(bundle, "cpu")
    generate_signing_key(tmp_path / "k.pem", tmp_path / "k.pub")
    signed = seal_bundle(bundle, load_signing_key(tmp_path / "k.pem"))  # a new seal, signed
    pinned = _pinned_model(bundle) | {"signer": signed.signer}
    predictor = study_model_factory(pinned)(bundle, "cpu")
    assert predictor.bundle.card.signer == signed.signer
    predictor.close()


# ----- deciding, resuming ----------------------------------------------------------------------
def test_submit_needs_a_class_and_a_rating_records_and_advances(qtbot, study, open_window):
    win = open_window(study, "R1")
    order = plan(study, "R1")[0].case_ids
    panel, c = win.decision_panel, win.controller
    assert c.state.case.case_id == order[0] and "Case " + order[0] in win.header.text()
    assert "1 of 5" in win.header.text() and "unaided reading" in win.header.text()
    assert "block 1 of 2" in win.header.text()
    assert not panel.submit.isEnabled() and not win.actions_by_name["submit"].isEnabled()
    panel.spin.setValue(70)
    assert not panel.submit.isEnabled()  # a rating alone is not enough
    panel.class_button("rachischisis").click()
    assert panel.submit.isEnabled() and win.actions_by_name["submit"].isEnabled()
    committed_before_next = []
    c.case_loading.connect(lambda *_: committed_before_next.append(c.progress()[0]))
    with qtbot.waitSignal(c.case_ready, timeout=WAIT_MS):
        panel.submit.click()
    assert committed_before_next == [1]  # in the log before the next case was prepared
    rows, _status = reads_rows(study)
    assert [(r["case"], r["class_call"], r["rating"]) for r in rows] == [
        (order[0], "rachischisis", 70.0)
    ]
    assert rows[0]["treatment"] == "unaided" and rows[0]["seconds"] > 0
    assert c.state.case.case_id == order[1] and "2 of 5" in win.header.text()
    assert not panel.submit.isEnabled() and panel.spin.value() == -1  # a fresh form
    with qtbot.waitSignal(c.case_ready, timeout=WAIT_MS):
        decide(qtbot, win, "encephalocele", 65, keyboard=True)  # 3, type 65, Ctrl+Enter
    rows = reads_rows(study)[0]
    assert (rows[1]["class_call"], rows[1]["rating"]) == ("encephalocele", 65.0)
    assert c.state.case.case_id == order[2]


def test_a_refused_submit_keeps_the_case_and_the_answer(qtbot, study, open_window, monkeypatch):
    win = open_window(study, "R1")
    c, panel = win.controller, win.decision_panel
    case = c.state.case.case_id

    def refuse(*_args, **_kwargs):
        raise ReaderStudyError("the disk is full")

    monkeypatch.setattr(c.session, "submit", refuse)
    panel.class_button("normal").click()
    panel.spin.setValue(20)
    panel.submit.click()
    assert "the disk is full" in panel.error.text() and panel.error.isVisible()
    assert win.pages.currentWidget() is win.case_page and c.state.case.case_id == case
    assert win.decision.class_call == "normal" and win.decision.rating == 20
    assert panel.submit.isEnabled()  # try again once the problem is fixed
    monkeypatch.undo()
    decide(qtbot, win, "normal", 20)
    assert reads_rows(study)[0][0]["case"] == case


def test_reopening_resumes_at_the_first_undecided_case(qtbot, study, open_window):
    order = plan(study, "R1")[0].case_ids
    win = open_window(study, "R1")
    for _ in range(2):
        with qtbot.waitSignal(win.controller.case_ready, timeout=WAIT_MS):
            decide(qtbot, win)
    assert win.controller.state.case.case_id == order[2]
    win.close()  # mid-case, no confirmation: case 3 simply comes again
    again = open_window(study, "R1")
    assert again.controller.state.case.case_id == order[2] and again.controller.state.position == 3
    assert "3 of 5" in again.header.text() and "2 of 10 decisions" in again.progress_label.text()


# ----- message pages ---------------------------------------------------------------------------
def test_washout_and_study_complete_pages(qtbot, tmp_path, demo_patients, tiny_bundle, open_window):
    washout = make_study(tmp_path / "w", demo_patients, tiny_bundle, washout_days=28)
    decide_with_core(washout, "R1", 5)
    win = open_window(washout, "R1", wait_ready=False)
    assert win.pages.currentWidget() is win.message_page
    assert win.message_page.property("kind") == "washout"
    with ReaderSession(washout, "R1") as s:
        decided_at = max(d["ts"] for d in s.decided().values())
    import datetime as dt

    opens = (dt.datetime.fromisoformat(decided_at) + dt.timedelta(days=28)).astimezone()
    assert f"{opens:%d %B %Y}" in win.message_title.text()
    assert not win.actions_by_name["submit"].isEnabled() and not win.retry_button.isVisible()

    done = make_study(tmp_path / "d", demo_patients, tiny_bundle)
    decide_with_core(done, "R2", 10)
    win = open_window(done, "R2", wait_ready=False)
    assert win.message_page.property("kind") == "complete"
    assert win.message_title.text() == "Study complete" and "every case" in win.message_text.text()
    assert win.controller.model_service.model is None


def test_a_case_whose_images_are_gone_gives_a_message_without_paths(
    qtbot, tmp_path, demo_patients, tiny_bundle, open_window
):
    data = tmp_path / "data"
    shutil.copytree(DEMO, data)
    from core.discovery import discover

    patients = discover([data / "manifest.csv"]).patients
    study = make_study(tmp_path / "s", patients, tiny_bundle, data=data / "manifest.csv")
    first = plan(study, "R1")[0].case_ids[0]
    case = next(c for c in load_coordinator(study).protocol.cases if c.case_id == first)
    Path(case.source_keys[1].split("#")[0]).unlink()
    win = open_window(study, "R1", wait_ready=False)
    qtbot.waitUntil(lambda: win.pages.currentWidget() is win.message_page, timeout=WAIT_MS)
    text = win.message_text.text()
    assert first in text and "can no longer be found" in text
    assert str(data) not in text and case.patient_id not in text and win.retry_button.isVisible()


# ----- identity --------------------------------------------------------------------------------
def test_the_window_never_shows_patient_ids_paths_or_tags(qtbot, study, open_window):
    win = open_window(study, "R2")  # aided: the most text on screen
    win.state.set_heatmap_on(True)
    qtbot.wait(50)
    texts = "\n".join(visible_texts(win))
    patient_ids = [c.patient_id for c in load_coordinator(study).protocol.cases]
    assert "PH7-0001" in patient_ids
    for forbidden in [*patient_ids, "PH7", ".dcm", str(DEMO), "img0"]:
        assert forbidden not in texts, forbidden
    assert win.controller.state.case.case_id in texts and "DE-IDENTIFIED" in texts
    assert win.vm.deidentified and not win.findChildren(TagView)
    assert all(r.label is None and r.patient_id.startswith("C") for r in win.vm.cohort.images)


def test_case_images_are_found_after_the_data_moved(demo_patients):
    from dataclasses import replace

    from core.readerstudy.protocol import CaseSpec

    patient = demo_patients[0]
    case = CaseSpec("C001", patient.patient_id, "normal", tuple(r.key for r in patient.images))
    moved = [replace(r, path=Path("/elsewhere") / r.path.parent.name / r.path.name)
             for r in patient.images]  # fmt: skip
    assert select_case_images(case, moved) == moved
    with pytest.raises(ReaderStudyError, match="2 of its"):
        select_case_images(case, moved[2:])


def test_decision_rules_without_widgets():
    from desktop.viewmodels.decision import DecisionState

    d = DecisionState()
    d.reset(DEFAULT_CLASS_NAMES)
    assert not d.can_submit and "class" in d.missing()
    d.set_class("normal")
    assert not d.can_submit and "confidence" in d.missing()  # no default rating of 50
    d.set_rating(150)
    assert d.rating == 100 and d.can_submit
    d.set_busy(True)
    assert not d.can_submit
    with pytest.raises(ValueError):
        d.set_class("tumour")
    d.reset(DEFAULT_CLASS_NAMES)
    assert (d.class_call, d.rating, d.busy) == (None, None, False)


# ----- command line ----------------------------------------------------------------------------
def cancel_start_dialog(seen: list[str]) -> None:
    """When the reader-study dialog comes up (a start-up error), note its message and cancel."""

    def poll():
        dialog = next((w for w in QApplication.topLevelWidgets() if isinstance(w, ReaderStudyDialog) and w.isVisible()), None)  # fmt: skip
        if dialog is None:
            QTimer.singleShot(20, poll)
            return
        seen.append(dialog.error.text())
        dialog.reject()

    QTimer.singleShot(0, poll)


def test_bad_study_or_reader_exits_2_with_the_error_on_stderr_and_in_a_dialog(
    qtbot, tmp_path, study, capsys
):
    seen: list[str] = []
    cancel_start_dialog(seen)
    assert main(["--study", str(tmp_path / "nope"), "--reader", "R1"]) == EXIT_USAGE
    assert "no such study folder" in capsys.readouterr().err and "no such study folder" in seen[-1]
    cancel_start_dialog(seen)
    assert main(["--study", str(study), "--reader", "R9"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "'R9' is not enrolled" in err and "Traceback" not in err and "'R9'" in seen[-1]
    assert not (study / "reads" / "R9.sqlite").exists()
    cancel_start_dialog(seen)
    assert main(["--study", str(study)]) == EXIT_USAGE
    assert "--reader" in capsys.readouterr().err and "--reader" in seen[-1]
    assert (
        main(["--study", str(study), "--reader", "R1", "--demo"]) == EXIT_USAGE
    )  # usage: CLI only
    (study / "protocol.json").write_text("{not json")
    cancel_start_dialog(seen)
    assert main(["--study", str(study), "--reader", "R1"]) == EXIT_USAGE
    assert "not valid JSON" in capsys.readouterr().err and "not valid JSON" in seen[-1]
    assert len(seen) == 4


def test_missing_data_exits_2(qtbot, tmp_path, demo_patients, tiny_bundle, capsys):
    study = make_study(tmp_path / "s", demo_patients, tiny_bundle, data=tmp_path / "gone.csv")
    seen: list[str] = []
    cancel_start_dialog(seen)
    assert main(["--study", str(study), "--reader", "R1"]) == EXIT_USAGE
    assert "data" in capsys.readouterr().err and not (study / "reads" / "R1.sqlite").exists()
    assert "is missing" in seen[0]


def test_help_documents_reading_mode(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--study STUDY_DIR" in out and "--reader READER_ID" in out


def test_screenshot_in_reading_mode(tmp_path, study):
    """In its own process, as a reader's command line runs it (an app.exec() that ended with
    exit() in this process leaves later reading windows of the test session without events)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "reading.png"
    cmd = [sys.executable, "-m", "desktop.app", "--study", str(study), "--reader", "R1",
           "--screenshot", str(out), "--device", "cpu"]  # fmt: skip
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    assert subprocess.run(cmd, cwd=ROOT, env=env, timeout=300).returncode == 0
    from PIL import Image

    assert Image.open(out).size == (1440, 900)
