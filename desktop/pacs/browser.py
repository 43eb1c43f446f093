"""PACS > Study browser…: search a node, retrieve a study into the local cache, open it.

Searches and retrieves run on background threads (``OpRunner``); the retrieve's progress comes
back through a ``ProgressRelay`` and Cancel sets the event ``core.pacs`` polls. A retrieved
study opens through the main window's own open path (``open_study(folder)``), exactly like a
folder. Every ``core.pacs`` error is shown in the dialog's message line; nothing is left in
the cache of a failed or cancelled retrieve (core/pacs/cache.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import CNSightError
from core.pacs import transfer
from core.pacs.cache import CachedStudy, StudyCache
from core.pacs.errors import RetrieveCancelled
from core.pacs.nodes import PacsConfig, PacsNode, load_config
from core.pacs.query import StudyQuery, StudyRecord

from ..background import OpRunner
from .feedback import MessageLine, ProgressRelay, error_text
from .study_table import StudyTable

#: Retrieve methods as the browser names them (core.pacs.transfer.RETRIEVE_METHODS).
METHOD_TEXT = {
    "move": "C-MOVE (the PACS sends to our port)",
    "get": "C-GET (on our connection)",
    "wadors": "WADO-RS (DICOMweb)",
}


def _field(name: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    return edit


class PacsBrowser(QDialog):
    nodes_requested = Signal()  # the user wants the node settings (the controller opens them)

    def __init__(
        self,
        runner: OpRunner,
        open_study: Callable[[Path], None],
        nodes_file: Path | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("CNSight — PACS study browser")
        self.setObjectName("pacsBrowser")
        self.runner, self.open_study, self.nodes_file = runner, open_study, nodes_file
        self.config = PacsConfig()
        self.cache: StudyCache | None = None
        self._cache_key: tuple[Path, int] | None = None
        self._ticket = 0
        self._busy = False  # a search or a retrieve is running (one at a time)
        self._config_error = ""  # the nodes file's error, shown until it reads again
        self._cancel: threading.Event | None = None
        self.retrieved: CachedStudy | None = None  # the last study retrieved and opened
        self.relay = ProgressRelay(self)
        self.relay.connect_to(self._on_progress)

        self.node = QComboBox()
        self.node.setObjectName("browserNode")
        self.node.setMinimumWidth(260)
        nodes = QPushButton("Nodes…")
        nodes.setObjectName("browserNodes")
        nodes.clicked.connect(self.nodes_requested)
        self.patient_name = _field("searchPatientName", "e.g. DOE* (wildcards * and ?)")
        self.patient_id = _field("searchPatientId", "")
        self.date_from = _field("searchDateFrom", "YYYYMMDD")
        self.date_to = _field("searchDateTo", "YYYYMMDD")
        self.modality = _field("searchModality", "e.g. US")
        self.accession = _field("searchAccession", "")
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("searchButton")
        self.search_button.setDefault(True)
        self.table = StudyTable()
        self.method = QComboBox()
        self.method.setObjectName("retrieveMethod")
        for key in transfer.RETRIEVE_METHODS:
            self.method.addItem(METHOD_TEXT[key], key)
        self.retrieve_button = QPushButton("Retrieve and open")
        self.retrieve_button.setObjectName("retrieveButton")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelRetrieve")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setObjectName("retrieveProgress")
        self.progress.setFormat("%v / %m images")
        self.progress.setValue(0)
        self.message = MessageLine("browserMessage")
        self.cache_label = QLabel("")
        self.cache_label.setObjectName("cacheLabel")
        self.cache_label.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("PACS node"))
        top.addWidget(self.node, 1)
        top.addWidget(nodes)
        grid = QGridLayout()
        pairs = [
            ("Patient name", self.patient_name), ("Patient ID", self.patient_id),
            ("Study date from", self.date_from), ("to", self.date_to),
            ("Modality", self.modality), ("Accession", self.accession),
        ]  # fmt: skip
        for i, (label, edit) in enumerate(pairs):
            grid.addWidget(QLabel(label), i // 2, (i % 2) * 2)
            grid.addWidget(edit, i // 2, (i % 2) * 2 + 1)
        grid.addWidget(self.search_button, 2, 4)
        retrieve = QHBoxLayout()
        retrieve.addWidget(self.method)
        retrieve.addWidget(self.retrieve_button)
        retrieve.addWidget(self.progress, 1)
        retrieve.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(grid)
        lay.addWidget(self.table, 1)
        form = QFormLayout()
        form.addRow("Retrieve by", retrieve)
        lay.addLayout(form)
        lay.addWidget(self.message)
        lay.addWidget(self.cache_label)
        self.resize(980, 600)

        self.search_button.clicked.connect(self.search)
        for edit in (p[1] for p in pairs):
            edit.returnPressed.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve)
        self.table.doubleClicked.connect(lambda _index: self.retrieve())
        self.cancel_button.clicked.connect(self.cancel)
        self.node.currentIndexChanged.connect(lambda _i: self._node_changed())
        self.reload_nodes()

    # ----- nodes and cache -----------------------------------------------------------------
    def reload_nodes(self) -> None:
        """Read the nodes file again (after the node settings saved it)."""
        current = self.node.currentText()
        try:
            self.config = load_config(self.nodes_file)
        except CNSightError as exc:
            self.config, self._config_error = PacsConfig(), str(exc)
            self.message.show_error(self._config_error)
        else:
            if self._config_error and self.message.text() == self._config_error:
                self.message.show_info("")
            self._config_error = ""
        self.node.blockSignals(True)
        self.node.clear()
        for n in self.config.nodes:
            self.node.addItem(n.describe(), n.name)
        index = self.node.findData(current)
        self.node.setCurrentIndex(max(index, 0))
        self.node.blockSignals(False)
        if not self.config.nodes and not self.message.is_error:
            self.message.show_info("No PACS node yet: add one with Nodes…")
        self._node_changed()
        self._open_cache()

    def selected_node(self) -> PacsNode | None:
        name = self.node.currentData()
        return self.config.node(name) if name else None

    def _node_changed(self) -> None:
        node = self.selected_node()
        for i, key in enumerate(transfer.RETRIEVE_METHODS):
            usable = node is not None and transfer.node_supports(node, key)
            self.method.model().item(i).setEnabled(usable)
        if (
            node is not None
            and not self.method.model().item(self.method.currentIndex()).isEnabled()
        ):
            self.method.setCurrentIndex(
                self.method.findData("move" if node.has_dimse else "wadors")
            )
        self._set_busy(self._busy)

    def _open_cache(self) -> None:
        """Open (or re-open, if its settings changed) the cache; opening scans its folder, so
        it runs in the background."""
        settings = self.config.cache
        key = (settings.path, settings.limit_bytes)
        if key == self._cache_key:
            self._show_cache()
            return
        self._cache_key = key
        self.cache_label.setText(f"Cache: {settings.path} (opening…)")
        self.runner.run(
            lambda: StudyCache(*key),
            lambda cache: self._cache_opened(key, cache),
            lambda exc: self._cache_failed(key, exc),
        )

    def _cache_opened(self, key, cache: StudyCache) -> None:
        if key == self._cache_key:
            self.cache = cache
            self._show_cache()
            self._set_busy(self._busy)

    def _cache_failed(self, key, exc: BaseException) -> None:
        if key == self._cache_key:
            self.cache = None
            self.cache_label.setText(f"Cache: {key[0]}: cannot be used ({error_text(exc)})")

    def _show_cache(self) -> None:
        if self.cache is not None:
            n = len(self.cache.complete_studies())
            self.cache_label.setText(
                f"Cache: {self.cache.describe()}; {n} stud{'y' if n == 1 else 'ies'} kept "
                "(limit and folder: Nodes…)"
            )

    # ----- search --------------------------------------------------------------------------
    def _set_busy(self, busy: bool, retrieving: bool = False) -> None:
        self._busy = busy
        has_node = self.selected_node() is not None
        self.search_button.setEnabled(not busy and has_node)
        self.retrieve_button.setEnabled(not busy and has_node and self.cache is not None)
        self.cancel_button.setEnabled(retrieving)
        self.node.setEnabled(not busy)

    def query(self) -> StudyQuery:
        """The search the fields describe (QueryError for a bad date)."""

        def date(edit: QLineEdit) -> str:
            return edit.text().strip().replace("-", "")

        return StudyQuery(
            patient_name=self.patient_name.text().strip(),
            patient_id=self.patient_id.text().strip(),
            date_from=date(self.date_from),
            date_to=date(self.date_to),
            modality=self.modality.text().strip().upper(),
            accession=self.accession.text().strip(),
        )

    def search(self) -> None:
        node = self.selected_node()
        if node is None or self._busy:
            return
        try:
            query = self.query()
        except CNSightError as exc:
            self.message.show_error(str(exc))
            return
        self._set_busy(True)
        self.message.show_info(f"Searching {node.name}…")
        self.runner.run(
            lambda: transfer.search(node, query),
            lambda studies: self._found(node, studies),
            self._failed,
        )

    def _found(self, node: PacsNode, studies: list[StudyRecord]) -> None:
        self._set_busy(False)
        self.table.show_studies(studies)
        n = len(studies)
        self.message.show_info(
            f"{n} stud{'y' if n == 1 else 'ies'} found on {node.name}"
            + (": select one and Retrieve (or double-click it)" if n else "")
        )

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.message.show_error(error_text(exc))

    # ----- retrieve ------------------------------------------------------------------------
    def retrieve(self) -> None:
        node, study, cache = self.selected_node(), self.table.selected_study(), self.cache
        if self._busy or node is None or cache is None:
            return
        if study is None:
            self.message.show_error("Select a study in the results first.")
            return
        method = self.method.currentData()
        self._ticket += 1
        ticket, cancel = self._ticket, threading.Event()
        self._cancel = cancel
        self._set_busy(True, retrieving=True)
        self.progress.setRange(0, study.n_instances or 0)  # 0..0: busy until the PACS says
        self.progress.setValue(0)
        who = study.patient_name.replace("^", " ").strip() or study.patient_id
        self.message.show_info(f"Retrieving the study of {who} from {node.name} by {method}…")
        progress = self.relay.reporter(ticket)
        self.runner.run(
            lambda: transfer.retrieve(node, study.study_uid, cache, method, progress, cancel),
            lambda cached: self._retrieved(ticket, cached),
            lambda exc: self._retrieve_failed(ticket, exc),
        )

    def _on_progress(self, ticket: int, done: int, total: int | None) -> None:
        if ticket != self._ticket:
            return
        if total:
            self.progress.setRange(0, total)
        self.progress.setValue(min(done, self.progress.maximum()) if total else done)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.message.show_info("Cancelling…")

    def _retrieved(self, ticket: int, cached: CachedStudy) -> None:
        if ticket != self._ticket:
            return
        self._cancel = None
        self._set_busy(False)
        self.progress.setRange(0, cached.n_instances)
        self.progress.setValue(cached.n_instances)
        if self.cache is not None:  # the open study is never evicted by the next retrieve
            self.cache.protected = {cached.study_uid}
        self.retrieved = cached
        self.message.show_info(
            f"Retrieved {cached.n_instances} images ({cached.n_bytes / 1e6:.1f} MB) into "
            f"{cached.instances}; opening it."
        )
        self._show_cache()
        self.open_study(cached.instances)

    def _retrieve_failed(self, ticket: int, exc: BaseException) -> None:
        if ticket != self._ticket:
            return
        self._cancel = None
        self._set_busy(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if isinstance(exc, RetrieveCancelled):
            self.message.show_info("Retrieve cancelled; nothing of the study was kept.")
        else:
            self.message.show_error(f"Retrieve failed: {error_text(exc)}")
        self._show_cache()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()  # a retrieve nobody watches is not left running
        super().closeEvent(event)

    def reject(self) -> None:
        self.cancel()
        super().reject()
