"""The "Send results to PACS" dialog's refusals, without a model: results of PNG files (no
DICOM study to attach to), and no node set up; and the send action loads no torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core.aggregation import aggregate_patient
from core.pacs.nodes import PacsConfig, PacsNode, save_config
from core.records import ImageRef
from desktop.pacs.send_dialog import SendResultsDialog
from desktop.pacs.send_results import PatientResults
from tests.support.gui import fake_prediction
from tests.support.orthanc import free_port


@pytest.fixture
def png_results(png_study, tiny_bundle) -> PatientResults:
    """Results of patient P001's three PNG files, as the app would hold them."""
    from core.bundle import load_bundle

    card = load_bundle(tiny_bundle).card
    refs = [ImageRef(path=p, patient_id="P001") for p in sorted((png_study / "P001").glob("*.png"))]
    probs = np.array([[0.6, 0.1, 0.1, 0.1, 0.1]] * len(refs))
    preds = tuple(fake_prediction(r, p) for r, p in zip(refs, probs, strict=True))
    verdict = aggregate_patient(
        "P001", probs, [r.key for r in refs], card.class_names, card.aggregation,
        views=[str(r.path) for r in refs],
    )  # fmt: skip
    return PatientResults("P001", preds, verdict, card, {})


def test_results_of_png_files_are_refused_with_the_reason(qtbot, runner, png_results):
    # Refused before any connection: the node need not answer.
    save_config(PacsConfig((PacsNode("site", "PACS", "127.0.0.1", free_port()),)))
    dialog = SendResultsDialog(runner, png_results)
    qtbot.addWidget(dialog)
    assert dialog.node.currentData() == "site"
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.send_button.isEnabled(), timeout=30_000)
    assert dialog.message.is_error and dialog.outcome is None
    assert dialog.message.text() == (
        "Sending failed: 3 of 3 images are not DICOM files (first: img0.png): there is no DICOM "
        "study to attach the results to"
    )


def test_without_a_node_the_dialog_says_where_to_add_one(qtbot, runner, png_results):
    dialog = SendResultsDialog(runner, png_results)
    qtbot.addWidget(dialog)
    assert dialog.message.is_error
    assert "No PACS node is set up: add one in PACS > PACS nodes…" in dialog.message.text()
    assert not dialog.send_button.isEnabled()


def test_the_send_action_loads_no_torch():
    """ "Send results to PACS" reaches core.dicom_out (an import-linter exception in
    pyproject.toml): importing it must not load torch in the GUI process."""
    code = (
        "import sys, desktop.pacs.send_dialog, desktop.pacs.menu; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
