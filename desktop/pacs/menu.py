"""The main window's PACS menu: Study browser…, Send results to PACS…, PACS nodes….

``add_pacs_menu(window)`` adds the menu and returns the ``PacsEntry`` that owns the dialogs
(kept, not re-created, so a background answer always finds its dialog) and a thread pool of
its own (a long retrieve never holds up the image loading of the analysis pipeline). A
retrieved study opens through ``window.open_paths``, like a folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from ..background import OpRunner
from ..window_actions import ActionSpec
from .browser import PacsBrowser
from .node_dialog import NodeSettingsDialog

MENU_TEXT = "&PACS"
#: The menu's actions; Help > Keyboard shortcuts lists their keys from this same table.
PACS_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("pacs_browser", "Study browser…", ("Ctrl+Shift+P",), "PACS"),
    ActionSpec("pacs_send", "Send results to PACS…", (), "PACS"),
    ActionSpec("pacs_nodes", "PACS nodes…", (), "PACS"),
)


class PacsEntry(QObject):
    def __init__(self, window: QMainWindow, nodes_file: Path | None = None):
        super().__init__(window)
        self.window, self.nodes_file = window, nodes_file
        self.runner = OpRunner(max_threads=2, parent=self)
        self.browser: PacsBrowser | None = None
        self.node_dialog: NodeSettingsDialog | None = None
        self.send_dialog = None
        self.actions: dict[str, QAction] = {}
        self.specs = PACS_ACTIONS

    def show_browser(self) -> PacsBrowser:
        if self.browser is None:
            self.browser = PacsBrowser(
                self.runner,
                lambda folder: self.window.open_paths([folder]),
                self.nodes_file,
                self.window,
            )
            self.browser.nodes_requested.connect(self.show_nodes)
        self.browser.show()
        self.browser.raise_()
        return self.browser

    def show_nodes(self) -> NodeSettingsDialog:
        if self.node_dialog is None:
            self.node_dialog = NodeSettingsDialog(self.runner, self.nodes_file, self.window)
            self.node_dialog.saved.connect(self._nodes_saved)
        else:
            self.node_dialog.reload()
        self.node_dialog.show()
        self.node_dialog.raise_()
        return self.node_dialog

    def _nodes_saved(self) -> None:
        if self.browser is not None:
            self.browser.reload_nodes()

    def send_results(self):
        """The send dialog for the current patient (or a message saying why there is none)."""
        from core.errors import CNSightError

        from .send_dialog import SendResultsDialog  # highdicom: only when asked for
        from .send_results import results_of_current_patient

        win = self.window
        try:
            results = results_of_current_patient(win.vm, win.session.model.model, win.report_data)
        except (CNSightError, ValueError) as exc:  # ValueError: report_data's "not ready"
            win.show_message(QMessageBox.Icon.Information, "Nothing to send yet", str(exc))
            return None
        if self.send_dialog is not None:
            self.send_dialog.close()
        dialog = SendResultsDialog(
            self.runner, results, self.nodes_file, win, reader=win.settings.reader_name
        )
        dialog.sent.connect(win.status.show_message)
        dialog.sent.connect(lambda _line: self._remember_reader(dialog.reader.text()))
        self.send_dialog = dialog
        self.send_dialog.show()
        return self.send_dialog

    def _remember_reader(self, name: str) -> None:
        """As File > Export report does: the next report offers the same reader's name."""
        if name.strip():
            self.window.settings.reader_name = name.strip()

    def shutdown(self) -> None:
        """At window close: cancel a retrieve, let running calls end (they have timeouts)."""
        if self.browser is not None:
            self.browser.cancel()
        self.runner.wait(15_000)


def add_pacs_menu(window: QMainWindow, nodes_file: Path | None = None) -> PacsEntry:
    """The PACS menu (before Help); ``window.closing`` shuts its background work down."""
    entry = PacsEntry(window, nodes_file)
    menu_bar = window.menuBar()
    help_menu = next((a for a in menu_bar.actions() if a.text() == "&Help"), None)
    menu = QMenu(MENU_TEXT, window)
    menu.setObjectName("pacsMenu")
    if help_menu is None:
        menu_bar.addMenu(menu)
    else:
        menu_bar.insertMenu(help_menu, menu)
    handlers = {
        "pacs_browser": entry.show_browser,
        "pacs_send": entry.send_results,
        "pacs_nodes": entry.show_nodes,
    }
    for spec in entry.specs:
        action = QAction(spec.text, window)
        action.setObjectName(spec.name)
        action.setShortcuts([QKeySequence(k) for k in spec.keys])
        action.triggered.connect(lambda _checked=False, h=handlers[spec.name]: h())
        window.addAction(action)
        menu.addAction(action)
        entry.actions[spec.name] = action
    closing = getattr(window, "closing", None)
    if closing is not None:
        closing.connect(entry.shutdown)
    return entry
