# ruff: noqa: F811 - the reading-mode fixtures are imported, then named as test arguments
"""A sequential study end to end as a coordinator runs it (issue 11, "Done when"): created with
``cnsight-study create``, every read made in the reading window (offscreen, the decision panel
clicked, the AI's output taken from what the window shows), then ``verify``, ``status``,
``export`` to each format, ``analyze`` and ``size`` - the command line's exit codes and files."""

from __future__ import annotations

import json

from openpyxl import load_workbook

from core.cli.study import main as study_main
from core.readerstudy.protocol import load_coordinator
from tests.desktop.test_reading_mode import WAIT_MS, open_window  # noqa: F401 - fixture
from tests.support.training_data import write_dataset

CLASSES = ("normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis")
READERS = ("R1", "R2")


def read_in_the_window(qtbot, win, truth: dict[str, str], reader_no: int) -> int:
    """Decide every read the window offers until its message page (study complete). First
    reads: right on two cases of three (else "normal"); final reads: the AI's class when it
    differs from the first call on every other case (a reader who sometimes follows the AI),
    else the first read unchanged."""
    c, panel, n = win.controller, win.decision_panel, 0
    while win.pages.currentWidget() is not win.message_page:
        state = c.state
        case = state.case.case_id
        if state.read == "final":
            first = state.first_decision["class_call"]
            ai = c.vm.verdict(case).pred
            call = ai if ai != first and (n + reader_no) % 2 else first
        else:
            call = truth[case] if (n + reader_no) % 3 else "normal"
        rating = 20 + n % 7 if call == "normal" else 60 + (n * 7 + reader_no) % 40
        if state.read == "final" and call == state.first_decision["class_call"]:
            rating = state.first_decision["rating"]  # the first read kept as it was
        panel.class_button(call).click()
        panel.spin.setValue(rating)
        with qtbot.waitSignal(c.decided, timeout=WAIT_MS):
            panel.submit.click()
        qtbot.waitUntil(
            lambda: c.shown_at is not None or win.pages.currentWidget() is win.message_page,
            timeout=WAIT_MS,
        )
        n += 1
    assert win.message_title.text() == "Study complete"
    return n


def test_a_sequential_study_created_read_in_the_app_verified_exported_analysed_and_sized(
    qtbot, tmp_path, tiny_bundle, open_window, capsys, caplog
):
    manifest = write_dataset(
        tmp_path / "data", patients_per_class=3, images_per_patient=1, classes=CLASSES, seed=5
    )
    study = tmp_path / "study"
    create = ["create", str(study), "--data", str(manifest), "--readers", ",".join(READERS),
              "--design", "sequential", "--practice", "1", "--model", str(tiny_bundle)]  # fmt: skip
    assert study_main(create) == 0
    assert "needs at least 2 of each" not in caplog.text  # analysable: 2+ normal, 2+ abnormal
    protocol = load_coordinator(study).protocol
    truth = {c.case_id: c.truth for c in protocol.cases + protocol.practice_cases}
    assert len(protocol.cases) == 14 and len(protocol.practice_cases) == 1

    for i, reader in enumerate(READERS):
        win = open_window(study, reader)
        assert read_in_the_window(qtbot, win, truth, i) == 2 * (
            1 + 14
        )  # first + final, practice too
        win.close()

    assert study_main(["verify", str(study)]) == 0
    assert study_main(["status", str(study)]) == 0
    assert "R1: 30/30 decisions" in capsys.readouterr().out
    out = tmp_path / "out"
    export = ["export", str(study), "--out", str(out / "reads.csv"),
              "--imrmc", str(out / "reads.imrmc"), "--rjafroc", str(out / "reads.xlsx")]  # fmt: skip
    assert study_main(export) == 0
    rows = (out / "reads.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 14 * 2  # no practice read
    assert any(",final,1," in r for r in rows) and any(",final,0," in r for r in rows)
    imrmc = (out / "reads.imrmc").read_text()
    assert "NR: 2" in imrmc and "NM: 2" in imrmc and "BEGIN DATA:" in imrmc
    assert set(load_workbook(out / "reads.xlsx").sheetnames) >= {"TRUTH", "FP", "TP"}

    analysis = out / "analysis"
    assert study_main(["analyze", "--reads", str(out / "reads.csv"), "--out", str(analysis)]) == 0
    result = json.loads((analysis / "analysis.json").read_text())
    assert result["study_design"] == "sequential" and result["design"]["cases"] == 14
    for section in ("class_call", "reading_time", "ai_standalone", "second_read"):
        assert result[section] is not None, section
    assert any(w.startswith("only 2 readers: with fewer than 3") for w in result["warnings"])
    assert "Second read" in (analysis / "report.html").read_text()
    size = ["size", str(analysis / "analysis.json"), "--effect", "0.1", "--readers", "4,6"]
    assert study_main(size) == 0
    assert "4 readers:" in capsys.readouterr().out
