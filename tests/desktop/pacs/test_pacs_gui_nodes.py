"""PACS > PACS nodes…: the dialog saves through core.pacs's nodes file and its "Test
connection" asks a real Orthanc (C-ECHO, QIDO-RS) on a background thread."""

from __future__ import annotations

import json

import pytest

from core.pacs.nodes import default_nodes_file, load_config
from desktop.pacs.node_dialog import NodeSettingsDialog
from desktop.pacs.node_form import BOTH, DIMSE
from tests.support.orthanc import free_port


@pytest.fixture
def dialog(qtbot, runner):
    dialog = NodeSettingsDialog(runner)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _fill(form, orthanc, port=None):
    form.name.setText("site-pacs")
    form.protocol.setCurrentIndex(form.protocol.findData(BOTH if orthanc.has_dicomweb else DIMSE))
    form.ae_title.setText(orthanc.aet)
    form.host.setText("127.0.0.1")
    form.port.setValue(port or orthanc.dicom_port)
    form.our_ae_title.setText(orthanc.our_aet)
    form.our_port.setValue(orthanc.our_port)
    form.dicomweb_url.setText(orthanc.dicomweb_url)
    form.timeout.setValue(5)


def test_a_node_is_saved_to_the_nodes_file_and_removed_again(dialog, orthanc):
    _fill(dialog.form, orthanc)
    dialog.cache_limit.setValue(123)
    dialog.save_button.click()
    assert not dialog.message.is_error, dialog.message.text()
    config = load_config()  # what the CLI reads
    (node,) = config.nodes
    assert (node.name, node.ae_title, node.port) == ("site-pacs", orthanc.aet, orthanc.dicom_port)
    assert node.dicomweb_url == (orthanc.dicomweb_url if orthanc.has_dicomweb else "")
    assert config.cache.limit_mb == 123
    assert dialog.node_list.count() == 1 and dialog.node_list.currentItem().text() == "site-pacs"
    # Edited under a new name: replaced, not doubled.
    dialog.form.name.setText("renamed")
    dialog.save_button.click()
    assert [n.name for n in load_config().nodes] == ["renamed"]
    dialog.remove_button.click()
    assert load_config().nodes == ()
    assert "Removed node 'renamed'" in dialog.message.text()


def test_test_connection_ok(qtbot, dialog, orthanc):
    _fill(dialog.form, orthanc)
    dialog.test_button.click()
    assert not dialog.test_button.isEnabled()  # running in the background
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    text = dialog.message.text()
    assert not dialog.message.is_error, text
    assert f"C-ECHO to {orthanc.aet}@127.0.0.1:{orthanc.dicom_port}: OK" in text
    if orthanc.has_dicomweb:
        assert f"DICOMweb at {orthanc.dicomweb_url}: OK" in text
    assert not default_nodes_file().exists()  # testing saves nothing


def test_test_connection_refused_and_wrong_ae_title(qtbot, dialog, orthanc):
    _fill(dialog.form, orthanc, port=free_port())  # nothing listens there
    dialog.form.protocol.setCurrentIndex(dialog.form.protocol.findData(DIMSE))
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    assert dialog.message.is_error
    assert "Connection failed: nothing accepts connections at 127.0.0.1" in dialog.message.text()
    _fill(dialog.form, orthanc)
    dialog.form.ae_title.setText("NOT-ORTHANC")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=30_000)
    assert dialog.message.is_error
    assert "called AE title not recognised" in dialog.message.text()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.ae_title.setText("A-TITLE-LONGER-THAN-16"), "must be 1-16 letters"),
        (lambda f: f.host.setText(""), "enter the PACS's host"),
        (lambda f: f.name.setText(" "), "a name is required"),
    ],
)
def test_an_invalid_node_is_refused_with_its_reason_and_nothing_saved(
    dialog, orthanc, edit, message
):
    _fill(dialog.form, orthanc)
    edit(dialog.form)
    dialog.save_button.click()
    assert dialog.message.is_error and message in dialog.message.text()
    assert not default_nodes_file().exists()


def test_tls_files_that_cannot_be_read_are_refused(dialog, orthanc, tmp_path):
    _fill(dialog.form, orthanc)
    dialog.form.tls.setChecked(True)
    dialog.form.ca_file.setText(str(tmp_path / "missing-ca.pem"))
    dialog.save_button.click()
    assert dialog.message.is_error and "TLS files could not be loaded" in dialog.message.text()


def test_a_broken_nodes_file_is_shown_and_never_overwritten(qtbot, runner):
    path = default_nodes_file()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"nodes": [{"name": "x", "aetitle": "typo"}]}))
    dialog = NodeSettingsDialog(runner)
    qtbot.addWidget(dialog)
    assert dialog.message.is_error and "unknown setting(s) aetitle" in dialog.message.text()
    assert not dialog.save_button.isEnabled()
    assert "aetitle" in path.read_text()


def test_tls_settings_are_saved(dialog, orthanc):
    import certifi  # a real CA bundle file (requests' dependency)

    _fill(dialog.form, orthanc)
    dialog.form.tls.setChecked(True)
    dialog.form.ca_file.setText(certifi.where())
    dialog.form.verify_hostname.setChecked(False)
    dialog.save_button.click()
    assert not dialog.message.is_error, dialog.message.text()
    (node,) = load_config().nodes
    assert (node.tls.enabled, node.tls.ca_file, node.tls.verify_hostname) == (
        True, certifi.where(), False,
    )  # fmt: skip
    dialog.reload()
    assert dialog.form.tls.isChecked() and dialog.form.ca_file.text() == certifi.where()
