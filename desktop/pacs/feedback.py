"""What the PACS dialogs share: a message line (plain, busy or error) and how an exception
from a background call becomes that message."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel

from core.errors import CNSightError

from .. import theme

log = logging.getLogger(f"cnsight.{__name__}")


def error_text(exc: BaseException) -> str:
    """The message for the user: a CNSight/PACS error says what happened and what to check;
    anything else (a library bug, a disk error) is named by its type and logged in full."""
    if isinstance(exc, CNSightError):
        return str(exc) or type(exc).__name__
    log.error("PACS operation failed", exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


class MessageLine(QLabel):
    """One line (or a few, wrapped) under a dialog's controls: what the last operation did."""

    def __init__(self, object_name: str):
        super().__init__("")
        self.setObjectName(object_name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.is_error = False

    def show_info(self, text: str) -> None:
        self.is_error = False
        self.setStyleSheet("")
        self.setText(text)

    def show_error(self, text: str) -> None:
        self.is_error = True
        self.setStyleSheet(f"color: {theme.FAILED_COLOUR};")
        self.setText(text)


class ProgressRelay(QObject):
    """Carries ``progress(done, total)`` calls from a worker thread to the GUI thread.

    The relay lives on the GUI thread and is connected with QueuedConnection, so a worker's
    call only queues the numbers; the slot runs in the GUI event loop. ``ticket`` tells the
    retrieve that reported from an earlier one still finishing."""

    progressed = Signal(int, int, object)  # ticket, done, total (None: not known yet)

    def reporter(self, ticket: int):
        def report(done: int, total: int | None) -> None:  # on the worker thread
            self.progressed.emit(ticket, done, total)

        return report

    def connect_to(self, slot) -> None:
        self.progressed.connect(slot, Qt.ConnectionType.QueuedConnection)
