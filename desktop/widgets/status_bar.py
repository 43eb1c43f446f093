"""The main window's status bar: a message, the analysis progress, the model and its device."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from ..model_worker import ModelInfo


class AnalysisStatus:
    """Fills a QStatusBar and says what the window is doing; the window calls these methods
    from its reactions to the pipeline and to its file operations."""

    def __init__(self, bar: QStatusBar):
        self.text = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setFormat("%v / %m images")
        self.progress.hide()
        self.model_label = QLabel("Model: loading…")
        self.device_label = QLabel("Device: —")
        bar.addWidget(self.text, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.device_label)

    def show_message(self, text: str, busy: bool = False) -> None:
        """One line; ``busy``: an indeterminate progress bar until the next progress or end."""
        self.text.setText(text)
        if busy:
            self.progress.setRange(0, 0)
            self.progress.show()

    def end_busy(self) -> None:
        self.progress.hide()

    def show_progress(self, done: int, total: int, paused: bool) -> None:
        """Images analysed of the study's total (total 0: idle, the bar hides)."""
        if total <= 0:
            self.progress.hide()
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.show()
        self.text.setText("Analysing…" if not paused else "Analysis stopped (Ctrl+R resumes)")

    def show_model_loading(self) -> None:
        self.model_label.setText("Model: loading…")

    def show_model(self, info: ModelInfo | None) -> None:
        """The model in use (after a load, or after a refused one: the previous model)."""
        if info is None:
            self.model_label.setText("Model: none")
            return
        self.model_label.setText(f"Model: {info.card.name} ({info.card.weights_sha256[:12]})")
        self.device_label.setText(f"Device: {info.device}")
