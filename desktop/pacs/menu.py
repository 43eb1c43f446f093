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
from .browser import PacsBrowser
from .node_dialog import NodeSettingsDialog

MENU_TEXT = "&PACS"


class PacsEntry(QObject):
    def __init__(self, window: QMainWindow, nodes_file: Path | None = None):
        super().__init__(window)
        self.window, self.nodes_file = window, nodes_file
        self.runner = OpRunner(max_threads=2, parent=self)
        self.browser: PacsBrowser | None = None
        self.node_dialog: NodeSettingsDialog | None = None
        self.send_dialog = None
        self.actions: dict[str, QAction] = {}

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
            results = results_of_current_patient(win.vm, win.session.model.model)
        except CNSightError as exc:
            win.show_message(QMessageBox.Icon.Information, "Nothing to send yet", str(exc))
            return None
        if self.send_dialog is not None:
            self.send_dialog.close()
        self.send_dialog = SendResultsDialog(self.runner, results, self.nodes_file, win)
        self.send_dialog.sent.connect(win.status.show_message)
        self.send_dialog.show()
        return self.send_dialog

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
    for name, text, keys, handler in (
        ("pacs_browser", "Study browser…", "Ctrl+Shift+P", entry.show_browser),
        ("pacs_send", "Send results to PACS…", "", entry.send_results),
        ("pacs_nodes", "PACS nodes…", "", entry.show_nodes),
    ):
        action = QAction(text, window)
        action.setObjectName(name)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda _checked=False, h=handler: h())
        window.addAction(action)
        menu.addAction(action)
        entry.actions[name] = action
    closing = getattr(window, "closing", None)
    if closing is not None:
        closing.connect(entry.shutdown)
    return entry
