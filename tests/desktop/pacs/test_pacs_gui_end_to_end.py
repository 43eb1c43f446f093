"""The real main window, all the way: a study opened from the PACS browser is analysed, its
results are sent back with PACS > Send results to PACS…, and the SR read back from Orthanc
carries the patient finding the app shows."""

from __future__ import annotations

import io

import pydicom
from PySide6.QtWidgets import QLabel, QMessageBox

from core.pacs.nodes import PacsConfig, save_config
from desktop.pacs.send_dialog import SendResultsDialog
from desktop.viewmodels.groups import patient_key
from tests.support.dicom_out import sr_children, sr_code_value, sr_groups
from tests.support.orthanc import free_port


def _read_back(orthanc, series_uids) -> dict[str, list[pydicom.Dataset]]:
    back: dict[str, list[pydicom.Dataset]] = {}
    for uid in series_uids:
        for raw in orthanc.series_instances(uid):
            ds = pydicom.dcmread(io.BytesIO(raw))
            back.setdefault(str(ds.Modality), []).append(ds)
    return back


def test_open_from_pacs_predict_send_results_and_read_the_sr_back(
    qtbot, main_window, tiny_bundle, orthanc, saved_node
):
    win = main_window
    with qtbot.waitSignal(win.session.model_changed, timeout=120_000):
        win.session.load_model(tiny_bundle, "cpu")
    browser_action = win.pacs.actions["pacs_browser"]
    assert browser_action.parent() is win
    browser_action.trigger()
    browser = win.pacs.browser
    qtbot.waitUntil(lambda: browser.cache is not None, timeout=10_000)
    browser.patient_id.setText("PH3-0002")
    browser.search_button.click()
    qtbot.waitUntil(lambda: browser.table.rowCount() == 1, timeout=30_000)
    study = browser.table.selected_study()
    browser.method.setCurrentIndex(browser.method.findData("get"))
    with qtbot.waitSignal(win.session.all_predicted, timeout=120_000):
        browser.retrieve_button.click()
    # Opened like a folder: through open_paths, so it is also in File > Recent studies.
    assert win.settings.recent_studies[0] == str(browser.retrieved.instances)
    patient = win.vm.current_patient
    assert (patient.patient_id, patient.study_uid) == ("PH3-0002", study.study_uid)
    verdict = win.vm.verdict(patient_key(patient))
    assert verdict is not None

    win.pacs.actions["pacs_send"].trigger()
    dialog = win.pacs.send_dialog
    assert isinstance(dialog, SendResultsDialog) and dialog.isVisible()
    summary = dialog.findChild(QLabel, "sendSummary").text()
    assert summary.startswith("Patient PH3-0002: a Structured Report (patient finding: ")
    dialog.method.setCurrentIndex(dialog.method.findData("store"))
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.send_button.isEnabled(), timeout=120_000)
    assert not dialog.message.is_error, dialog.message.text()
    outcome = dialog.outcome
    assert outcome.study_uid == study.study_uid
    assert dialog.message.text().startswith(f"Sent {len(outcome.files)} objects")
    assert "sent to test-orthanc" in win.status.text.text()

    back = _read_back(orthanc, outcome.report.series_uids)
    (sr,) = back["SR"]
    assert (sr.StudyInstanceUID, sr.PatientID) == (study.study_uid, "PH3-0002")
    patient_group, *image_groups = sr_groups(sr)
    assert sr_code_value(sr_children(patient_group, "Finding")[0]) == verdict.pred
    assert len(image_groups) == verdict.n_images
    assert len(back["OT"]) == len(verdict.drivers) and len(back["DOC"]) == 1
    for uid in outcome.report.series_uids:  # leave the shared server as found
        orthanc.rest("DELETE", f"/series/{orthanc.lookup(uid, 'Series')}")

    # A PACS that is not there: a clear message in the dialog, the app goes on.
    save_config(PacsConfig((saved_node, orthanc.node(name="dead", port=free_port()))))
    win.pacs.send_results()
    dialog = win.pacs.send_dialog
    dialog.node.setCurrentIndex(dialog.node.findData("dead"))
    dialog.method.setCurrentIndex(dialog.method.findData("store"))
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.send_button.isEnabled(), timeout=60_000)
    assert dialog.message.is_error
    assert dialog.message.text().startswith("Sending failed: nothing accepts connections")
    assert win.vm.verdict(patient_key(patient)) is verdict  # nothing else changed


def test_send_results_without_a_result_says_so(main_window, saved_node):
    assert main_window.pacs.send_results() is None
    box = main_window.last_message
    assert box.icon() == QMessageBox.Icon.Information
    assert "no study is open" in box.text()


def test_nodes_saved_from_the_browser_appear_in_it(qtbot, main_window, orthanc):
    """Browser > Nodes… opens PACS > PACS nodes…; a node saved there is offered at once."""
    from PySide6.QtWidgets import QPushButton

    browser = main_window.pacs.show_browser()
    assert browser.node.count() == 0
    browser.findChild(QPushButton, "browserNodes").click()
    dialog = main_window.pacs.node_dialog
    assert dialog is not None and dialog.isVisible()
    form = dialog.form
    form.name.setText("site-pacs")
    form.ae_title.setText(orthanc.aet)
    form.host.setText("127.0.0.1")
    form.port.setValue(orthanc.dicom_port)
    dialog.save_button.click()
    assert not dialog.message.is_error, dialog.message.text()
    assert browser.node.count() == 1 and browser.node.currentData() == "site-pacs"
    browser.search_button.click()
    qtbot.waitUntil(lambda: browser.table.rowCount() == 2, timeout=30_000)
