"""PACS > Study browser…: search a real Orthanc, retrieve with progress into the cache and open
the study, cancel, and every error shown in the dialog while the app keeps working."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from core.pacs.nodes import PacsConfig, save_config
from desktop.pacs.browser import PacsBrowser
from desktop.pacs.study_table import COLUMNS
from tests.support.orthanc import free_port, running_orthanc


@pytest.fixture
def browser(qtbot, runner, saved_node):
    opened: list[Path] = []
    browser = PacsBrowser(runner, opened.append)
    browser.opened = opened
    qtbot.addWidget(browser)
    browser.show()
    qtbot.waitUntil(lambda: browser.cache is not None, timeout=10_000)
    return browser


def _search(qtbot, browser, **fields) -> None:
    for name, value in fields.items():
        getattr(browser, name).setText(value)
    browser.search_button.click()
    qtbot.waitUntil(lambda: browser.search_button.isEnabled(), timeout=30_000)


def _cell(browser, row: int, column: str) -> str:
    return browser.table.item(row, COLUMNS.index(column)).text()


def test_search_finds_the_stored_phantom_studies(qtbot, browser):
    assert browser.node.currentText().startswith("test-orthanc (ORTHANC@127.0.0.1:")
    assert "Cache: " in browser.cache_label.text() and "MB" in browser.cache_label.text()
    _search(qtbot, browser, patient_name="PEL*")
    assert browser.table.rowCount() == 1, browser.message.text()
    assert _cell(browser, 0, "Patient name") == "PELHOLM Tara"
    assert _cell(browser, 0, "Patient ID") == "PH3-0001"
    assert _cell(browser, 0, "Study date") == "2023-09-07"
    assert (_cell(browser, 0, "Modalities"), _cell(browser, 0, "Images")) == ("US", "8")
    assert browser.message.text().startswith("1 study found on test-orthanc")
    _search(qtbot, browser, patient_name="", date_to="20230905")
    assert [_cell(browser, r, "Patient ID") for r in range(browser.table.rowCount())] == [
        "PH3-0002"
    ]
    _search(qtbot, browser, date_to="", modality="CT")
    assert browser.table.rowCount() == 0 and "0 studies found" in browser.message.text()


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_fills_the_bar_and_opens_the_study(qtbot, browser, own_cache_folder, method):
    _search(qtbot, browser, patient_id="PH3-0001")
    browser.method.setCurrentIndex(browser.method.findData(method))
    browser.retrieve_button.click()
    assert browser.cancel_button.isEnabled() and not browser.search_button.isEnabled()
    qtbot.waitUntil(lambda: bool(browser.opened), timeout=60_000)
    (folder,) = browser.opened
    assert folder == browser.retrieved.instances
    assert folder.parent.parent == own_cache_folder  # in the cache the dialog shows
    assert len(list(folder.glob("*.dcm"))) == 8
    assert (browser.progress.value(), browser.progress.maximum()) == (8, 8)
    assert not browser.cancel_button.isEnabled() and browser.retrieve_button.isEnabled()
    assert "1 study kept" in browser.cache_label.text()
    assert browser.cache.protected == {browser.retrieved.study_uid}


def test_cancel_keeps_nothing_and_the_next_retrieve_works(qtbot, browser):
    _search(qtbot, browser, patient_id="PH3-0002")
    study_uid = browser.table.selected_study().study_uid
    # The first instance's progress report waits (on the transfer's thread) until the user
    # has clicked Cancel: the click lands mid-transfer, every time.
    arrived, clicked = threading.Event(), threading.Event()

    def hold(_ticket, _done, _total):
        arrived.set()
        clicked.wait(20)

    browser.relay.progressed.connect(hold, Qt.ConnectionType.DirectConnection)
    browser.method.setCurrentIndex(browser.method.findData("get"))
    browser.retrieve_button.click()
    qtbot.waitUntil(arrived.is_set, timeout=30_000)
    browser.cancel_button.click()
    clicked.set()
    qtbot.waitUntil(lambda: browser.retrieve_button.isEnabled(), timeout=30_000)
    browser.relay.progressed.disconnect(hold)
    assert browser.message.text() == "Retrieve cancelled; nothing of the study was kept."
    assert browser.opened == [] and browser.cache.get(study_uid) is None
    assert not (browser.cache.root / study_uid).exists()
    browser.retrieve_button.click()  # the dialog keeps working
    qtbot.waitUntil(lambda: bool(browser.opened), timeout=60_000)
    assert browser.cache.get(study_uid).n_instances == 7


def test_errors_are_shown_in_the_dialog_and_it_keeps_working(qtbot, browser, orthanc, tmp_path):
    _search(qtbot, browser, date_from="7.9.2023")
    assert browser.message.is_error
    assert "study date from '7.9.2023' must be YYYYMMDD" in browser.message.text()
    _search(qtbot, browser, date_from="20230910", date_to="20230901")
    assert browser.message.is_error
    assert "study date from 20230910 is after to 20230901" in browser.message.text()
    # A node whose PACS is not there: the search fails with the reason, nothing hangs.
    dead = orthanc.node(name="dead", port=free_port(), dicomweb_url="")
    save_config(PacsConfig((orthanc.node(), dead)))
    browser.reload_nodes()
    browser.node.setCurrentIndex(browser.node.findData("dead"))
    _search(qtbot, browser, date_from="", date_to="")
    assert browser.message.is_error
    assert "nothing accepts connections at 127.0.0.1" in browser.message.text()
    browser.node.setCurrentIndex(browser.node.findData("test-orthanc"))
    _search(qtbot, browser)
    assert not browser.message.is_error and browser.table.rowCount() == 2


@pytest.fixture
def one_study_orthanc(tmp_path, phantom_studies):
    """An Orthanc of its own holding one study (the test deletes it)."""
    for server in running_orthanc(tmp_path / "own-orthanc"):
        server.upload(phantom_studies / "PH3-0001")
        yield server


def test_a_study_that_vanished_is_a_clear_retrieve_error(qtbot, runner, one_study_orthanc):
    save_config(PacsConfig((one_study_orthanc.node(),)))
    browser = PacsBrowser(runner, lambda folder: None)
    qtbot.addWidget(browser)
    qtbot.waitUntil(lambda: browser.cache is not None, timeout=10_000)
    _search(qtbot, browser, patient_id="PH3-0001")
    one_study_orthanc.delete_study(browser.table.selected_study().study_uid)
    browser.method.setCurrentIndex(browser.method.findData("get"))
    browser.retrieve_button.click()
    qtbot.waitUntil(lambda: browser.retrieve_button.isEnabled(), timeout=30_000)
    assert browser.message.is_error
    assert browser.message.text().startswith("Retrieve failed: ")
    assert "has no study" in browser.message.text()
    assert browser.cache.complete_studies() == []


def test_without_a_node_the_browser_says_how_to_add_one(qtbot, runner):
    browser = PacsBrowser(runner, lambda folder: None)
    qtbot.addWidget(browser)
    assert "No PACS node yet: add one with Nodes…" in browser.message.text()
    assert not browser.search_button.isEnabled() and not browser.retrieve_button.isEnabled()


def test_the_browser_with_results_as_a_picture(qtbot, browser, tmp_path):
    """An offscreen grab of the browser after a search and a retrieve, dark theme (what
    docs/img/pacs_browser.png shows); the picture is not blank and has the table's rows."""
    import numpy as np
    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from desktop.theme import apply_dark_theme

    apply_dark_theme(QApplication.instance())
    browser.resize(980, 560)
    _search(qtbot, browser)
    assert browser.table.rowCount() == 2
    browser.method.setCurrentIndex(browser.method.findData("get"))
    browser.retrieve_button.click()
    qtbot.waitUntil(lambda: bool(browser.opened), timeout=60_000)
    out = tmp_path / "pacs_browser.png"
    assert browser.grab().save(str(out))
    pixels = np.asarray(Image.open(out).convert("L"), dtype=float)
    assert pixels.shape == (560, 980) and pixels.std() > 10


def test_a_broken_nodes_file_is_shown_until_it_is_fixed(qtbot, runner, orthanc):
    from core.pacs.nodes import default_nodes_file

    path = default_nodes_file()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    browser = PacsBrowser(runner, lambda folder: None)
    qtbot.addWidget(browser)
    assert browser.message.is_error and "not a readable JSON nodes file" in browser.message.text()
    assert browser.node.count() == 0 and not browser.search_button.isEnabled()
    save_config(PacsConfig((orthanc.node(),)))  # fixed (e.g. in PACS > PACS nodes…)
    browser.reload_nodes()
    assert not browser.message.is_error and browser.node.count() == 1
    _search(qtbot, browser)
    assert browser.table.rowCount() == 2
