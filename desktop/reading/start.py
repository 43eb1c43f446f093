"""Starting a reader study from the app: the "Reader study…" entry of the main window (File
menu and toolbar) and the dialog that picks the study folder and the reader id.

The same dialog answers every start-up error of ``cnsight --study STUDY --reader R``: the
message is shown in it (and printed on stderr for the command line), the folder and reader are
filled in, and the reader can correct them and go on, or cancel (exit code 2).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core.errors import CNSightError
from core.readerstudy import ReaderSession, load_protocol

from .. import theme
from .cases import open_reader_session

log = logging.getLogger(f"cnsight.{__name__}")

ENTRY_TEXT = "Reader study…"


class ReaderStudyDialog(QDialog):
    """Study folder + reader id -> an open ``ReaderSession`` (``self.session`` once accepted).
    Every refusal (not a study, an unknown reader, missing data, an unverifiable log) is shown
    in the dialog; nothing is created until the session opens (open_reader_session)."""

    def __init__(
        self, parent: QWidget | None = None, study: Path | None = None, reader: str = "",
        error: str = "",
    ):  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle("CNSight — reader study")
        self.setObjectName("readerStudyDialog")
        self.session: ReaderSession | None = None
        self.folder = QLineEdit(str(study) if study else "")
        self.folder.setObjectName("studyFolder")
        self.folder.setPlaceholderText("the study folder the coordinator gave you (protocol.json)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.reader = QComboBox()
        self.reader.setObjectName("readerId")
        self.reader.setEditable(True)
        self.reader.setMinimumWidth(160)
        self.error = QLabel(error)
        self.error.setObjectName("startError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.FAILED_COLOUR};")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start reading")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Study folder", row)
        form.addRow("Reader id", self.reader)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Read the cases of a reader study, one at a time, in your order."))
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.resize(640, 220)
        self.folder.editingFinished.connect(self._fill_readers)
        self._fill_readers()
        if reader:
            self.reader.setCurrentText(reader)
        if error:  # the start-up error itself, not what the folder check says about it
            self.error.setText(error)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Reader study folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self._fill_readers()

    def _fill_readers(self) -> None:
        """The enrolled readers of the study in the folder, to choose from (typing works too)."""
        typed = self.reader.currentText()
        self.reader.clear()
        text = self.folder.text().strip()
        if not text:
            return
        try:
            readers = load_protocol(Path(text))[0].readers
        except CNSightError as exc:
            self.error.setText(str(exc))
            return
        self.reader.addItems(list(readers))
        self.reader.setCurrentText(typed if typed in readers else "")
        self.error.setText("")

    def start(self) -> None:
        study, reader = self.folder.text().strip(), self.reader.currentText().strip()
        if not study or not reader:
            self.error.setText("Choose the study folder and your reader id.")
            return
        try:
            self.session = open_reader_session(Path(study), reader)
        except (CNSightError, OSError, sqlite3.Error) as exc:
            log.error("reader study %s, reader %s: %s", study, reader, exc)
            self.error.setText(str(exc))
            return
        self.accept()


def open_reading_window(session: ReaderSession, device: str):
    """The reading window for an open session (its controller owns the session from here)."""
    from .controller import ReadingController
    from .window import ReadingWindow

    controller = ReadingController(session, device=device)
    window = ReadingWindow(controller)
    return window


def add_reader_study_entry(window: QMainWindow, device: str) -> QAction:
    """File > Reader study… (and the toolbar): the dialog, then the reading window. The main
    window keeps the reading window (``window.reading_window``) while it is open."""

    def start() -> None:
        dialog = ReaderStudyDialog(window)
        window.reader_study_dialog = dialog
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.session is None:
            return
        reading = open_reading_window(dialog.session, device)
        window.reading_window = reading
        reading.show()
        QTimer.singleShot(0, reading.controller.advance)

    action = QAction(ENTRY_TEXT, window)
    action.setObjectName("reader_study")
    action.triggered.connect(start)
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    quit_action = next((a for a in file_menu.actions() if a.objectName() == "quit"), None)
    file_menu.insertAction(quit_action, action)
    file_menu.insertSeparator(quit_action)
    toolbar = window.findChild(QToolBar, "mainToolbar")
    if toolbar is not None:
        action.setIconText("Reader study")
        toolbar.addAction(action)
    window.reading_window = None
    window.reader_study_dialog = None
    pane = getattr(window, "pane", None)
    if pane is not None:  # the empty main window says where the reader study starts
        pane.viewer.set_placeholder(
            "Open a study: File > Open folder (Ctrl+O), or drop files here\n\n"
            "Reading for a reader study? File > Reader study… (toolbar: Reader study)"
        )
    return action
