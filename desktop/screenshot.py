"""``--screenshot PNG``: wait until the study is loaded and analysed, show the heatmap of the
current image, save the main window and quit. Event driven (signals and timers), no polling
loops with processEvents()."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:  # types only: app.py imports this module after the window exists
    from core.readerstudy import SessionState

    from .main_window import MainWindow
    from .reading.window import ReadingWindow

log = logging.getLogger(f"cnsight.{__name__}")

SETTLE_MS = 300  # let the last paints (heatmap layer, thumbnails) happen before grabbing


class ScreenshotTaker(QObject):
    def __init__(self, window: MainWindow | ReadingWindow, out: Path, timeout_s: float):
        super().__init__(window)
        self.window, self.out = window, Path(out)
        self._timeout = QTimer(self)
        self._timeout.setSingleShot(True)
        self._timeout.setInterval(int(timeout_s * 1000))
        self._timeout.timeout.connect(self._on_timeout)
        self._taken = False

    def start(self) -> None:
        s = self.window.session
        s.all_predicted.connect(self._on_ready)
        s.study_failed.connect(lambda msg: self._finish(3, f"study could not be opened: {msg}"))
        s.model_failed.connect(self._on_model_failed)
        self._timeout.start()

    def _on_model_failed(self, message: str) -> None:
        if self.window.session.model.model is None:
            self._finish(3, f"model could not be loaded: {message}")

    def _on_ready(self) -> None:
        if self._taken or self.window.vm.current_prediction is None:
            return
        self._taken = True
        self.window.state.set_heatmap_on(True)
        QTimer.singleShot(SETTLE_MS, self._grab)

    def _grab(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(self.out)):
            self._finish(3, f"could not write {self.out}")
            return
        log.info("screenshot saved to %s", self.out)
        self._finish(0, None)

    def _on_timeout(self) -> None:
        self._finish(4, "timed out waiting for the study to be analysed (or the case to be shown)")

    def _finish(self, code: int, message: str | None) -> None:
        self._timeout.stop()
        if message:
            log.error("--screenshot: %s", message)
        self.window.close()
        QApplication.instance().exit(code)


class ReadingScreenshot(ScreenshotTaker):
    """``--screenshot`` in reader-study reading mode: the first case once it is on screen (an
    aided case with its AI results and the heatmap on), or the washout / study-complete page.
    It opens the reader's session like any start (the log records it) and never submits."""

    def start(self) -> None:
        c = self.window.controller
        c.case_ready.connect(self._on_case_ready)
        c.message.connect(self._on_message)
        self._timeout.start()

    def _on_case_ready(self, state: SessionState) -> None:
        if self._taken:
            return
        self._taken = True
        if state.ai_allowed:
            self.window.state.set_heatmap_on(True)
        QTimer.singleShot(SETTLE_MS, self._grab)

    def _on_message(self, kind: str, title: str, text: str) -> None:
        if self._taken:
            return
        if kind == "error":
            self._finish(3, f"{title}: {text}")
            return
        self._taken = True
        QTimer.singleShot(SETTLE_MS, self._grab)
