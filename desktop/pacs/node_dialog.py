"""PACS > PACS nodes…: add, edit and remove nodes, set the local cache, test a connection.

Everything is saved through ``core.pacs.nodes`` into the nodes file the CLI reads too
(``$XDG_CONFIG_HOME/CNSight/pacs-nodes.json`` or ``$CNSIGHT_PACS_NODES``). A nodes file that
cannot be read is shown as an error and never overwritten from the dialog (IT may deploy it).
"Test connection" runs C-ECHO and/or a QIDO-RS search on a background thread for the node as
the fields describe it now, saved or not.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import CNSightError
from core.pacs import transfer
from core.pacs.nodes import (
    CacheSettings,
    PacsConfig,
    default_cache_folder,
    load_config,
    save_config,
)

from ..background import OpRunner
from .feedback import MessageLine, error_text
from .node_form import NodeForm


class NodeSettingsDialog(QDialog):
    saved = Signal()  # the nodes file changed (the browser reloads its node list)

    def __init__(
        self, runner: OpRunner, nodes_file: Path | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle("CNSight — PACS nodes")
        self.setObjectName("pacsNodeDialog")
        self.runner, self.nodes_file = runner, nodes_file
        self.config = PacsConfig()
        self.read_only = False  # the nodes file could not be read: never overwrite it
        self._editing: str | None = None  # the saved node shown in the form (None: a new one)
        self.node_list = QListWidget()
        self.node_list.setObjectName("nodeList")
        self.node_list.setMaximumWidth(200)
        add, self.remove_button = QPushButton("New node"), QPushButton("Remove")
        add.setObjectName("addNode")
        self.remove_button.setObjectName("removeNode")
        self.form = NodeForm()
        self.cache_folder = QLineEdit()
        self.cache_folder.setObjectName("cacheFolder")
        self.cache_folder.setPlaceholderText(str(default_cache_folder()))
        self.cache_limit = QDoubleSpinBox()
        self.cache_limit.setObjectName("cacheLimit")
        self.cache_limit.setRange(1, 10_000_000)
        self.cache_limit.setDecimals(0)
        self.cache_limit.setSuffix(" MB")
        cache_box = QGroupBox(
            "Local cache of retrieved studies (patient data: keep it on an encrypted disk)"
        )
        cache_form = QFormLayout(cache_box)
        cache_form.addRow("Folder", self.cache_folder)
        cache_form.addRow("Size limit", self.cache_limit)
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testConnection")
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveNode")
        self.message = MessageLine("nodeMessage")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        left = QVBoxLayout()
        left.addWidget(self.node_list, 1)
        left.addWidget(add)
        left.addWidget(self.remove_button)
        right = QVBoxLayout()
        right.addWidget(self.form)
        right.addWidget(cache_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        right.addLayout(buttons)
        right.addWidget(self.message)
        top = QHBoxLayout()
        top.addLayout(left)
        top.addLayout(right, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(close)
        self.resize(760, 620)
        add.clicked.connect(self.new_node)
        self.remove_button.clicked.connect(self.remove_node)
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test_connection)
        self.node_list.currentTextChanged.connect(self._show_node)
        self.reload()

    # ----- the nodes file ------------------------------------------------------------------
    def reload(self) -> None:
        try:
            self.config = load_config(self.nodes_file)
            self.read_only = False
        except CNSightError as exc:
            self.config, self.read_only = PacsConfig(), True
            self.message.show_error(
                f"{exc}\nFix or remove the file; nothing is saved from here until then."
            )
        for w in (self.save_button, self.remove_button):
            w.setEnabled(not self.read_only)
        self.cache_folder.setText(self.config.cache.folder)
        self.cache_limit.setValue(self.config.cache.limit_mb)
        self._fill_list(self.config.nodes[0].name if self.config.nodes else None)

    def _fill_list(self, select: str | None) -> None:
        self.node_list.blockSignals(True)
        self.node_list.clear()
        self.node_list.addItems([n.name for n in self.config.nodes])
        self.node_list.blockSignals(False)
        self._editing = None
        if select is not None:
            self.node_list.setCurrentRow([n.name for n in self.config.nodes].index(select))
        else:
            self.new_node()

    def _show_node(self, name: str) -> None:
        if not name:
            return
        self._editing = name
        self.form.set_node(self.config.node(name))

    def new_node(self) -> None:
        self.node_list.clearSelection()
        self._editing = None
        self.form.set_node(None)
        self.form.name.setFocus()

    def _write(self, config: PacsConfig, done: str) -> bool:
        try:
            path = save_config(config, self.nodes_file)
        except OSError as exc:
            self.message.show_error(f"The nodes file could not be written: {exc}")
            return False
        self.config = config
        self.message.show_info(f"{done} (saved to {path})")
        self.saved.emit()
        return True

    def save(self) -> None:
        """Save the node in the form (replacing the one selected) and the cache settings."""
        try:
            node = self.form.node()
            cache = CacheSettings(self.cache_folder.text().strip(), float(self.cache_limit.value()))
        except CNSightError as exc:
            self.message.show_error(str(exc))
            return
        config = replace(self.config.with_node(node, self._editing), cache=cache)
        if self._write(config, f"Saved node {node.name!r}"):
            self._fill_list(node.name)

    def remove_node(self) -> None:
        if self._editing is None:
            return
        name = self._editing
        if self._write(self.config.without_node(name), f"Removed node {name!r}"):
            self._fill_list(self.config.nodes[0].name if self.config.nodes else None)

    # ----- test connection -----------------------------------------------------------------
    def test_connection(self) -> None:
        try:
            node = self.form.node()
        except CNSightError as exc:
            self.message.show_error(str(exc))
            return
        self.test_button.setEnabled(False)
        self.message.show_info(f"Testing {node.describe()}…")
        self.runner.run(
            lambda: transfer.test_connection(node),
            lambda check: self._tested(str(check), None),
            lambda exc: self._tested("", exc),
        )

    def _tested(self, lines: str, exc: BaseException | None) -> None:
        self.test_button.setEnabled(True)
        if exc is None:
            self.message.show_info(f"Connection OK.\n{lines}")
        else:
            self.message.show_error(f"Connection failed: {error_text(exc)}")
