"""The main window: assembles the thin widgets around the view-models and the session.

Layout (medical-viewer style, dark): research-use banner on top; patients and their images
on the left; the viewer with heatmap and cine bars in the centre; AI results and DICOM tags
on the right; files that could not be used in a bottom dock; progress, model and device in
the status bar. No module-level torch import: the window shows before the model loads.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import core

from .dialogs import ModelCardDialog, ShortcutsDialog
from .main_window_io import WindowIO
from .pipeline import AnalysisPipeline
from .presenter import ViewerPresenter
from .settings import AppSettings
from .viewmodels.viewer import ViewerState
from .widgets.controls import CineBar, HeatmapControls
from .widgets.panels import ErrorList, TagView
from .widgets.patient_list import PatientList
from .widgets.results_panel import ResultsPanel
from .widgets.thumbnails import ThumbnailStrip
from .widgets.viewer import ImageViewer
from .window_actions import build_actions, shortcut_rows, viewing_handlers

log = logging.getLogger(f"cnsight.{__name__}")


class MainWindow(QMainWindow):
    closing = Signal()

    def __init__(
        self, session: AnalysisPipeline, settings: AppSettings, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.session, self.vm, self.settings = session, session.vm, settings
        self.state = ViewerState(self)
        self.state.set_opacity(settings.opacity)
        self.setObjectName("mainWindow")
        self.setWindowTitle("CNSight")
        self.setAcceptDrops(True)
        self.resize(1440, 900)
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self.presenter = ViewerPresenter(self.vm, self.state, session, self.viewer, self)
        self.presenter.note_changed.connect(self.heatmap_controls.set_note)
        self.io = WindowIO(self)
        self.actions_by_name = build_actions(self, self._handlers())
        self.io.rebuild_recent_menu()
        self._connect()
        self._restore_settings()

    # ----- construction ------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.banner = QLabel(core.RESEARCH_USE_ONLY)
        self.banner.setObjectName("researchBanner")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.viewer = ImageViewer(self.state)
        self.heatmap_controls = HeatmapControls(self.vm, self.state)
        self.cine_bar = CineBar(self.vm, self.state)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        for widget, stretch in (
            (self.banner, 0),
            (self.viewer, 1),
            (self.cine_bar, 0),
            (self.heatmap_controls, 0),
        ):
            lay.addWidget(widget, stretch)
        self.setCentralWidget(central)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.patient_list = PatientList(self.vm)
        self.thumbnails = ThumbnailStrip(self.vm)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.patient_list)
        split.addWidget(self.thumbnails)
        split.setSizes([300, 500])
        self.study_dock = self._dock(
            "Study", "studyDock", split, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.results = ResultsPanel(self.vm)
        scroll = QScrollArea()
        scroll.setWidget(self.results)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tags = TagView(self.vm)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(scroll, "AI results")
        self.side_tabs.addTab(self.tags, "DICOM tags")
        self.results_dock = self._dock(
            "Analysis", "resultsDock", self.side_tabs, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.errors = ErrorList(self.vm)
        self.error_dock = self._dock(
            "Files not loaded", "errorDock", self.errors, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.error_dock.hide()
        split.setMinimumWidth(260)
        self.side_tabs.setMinimumWidth(340)
        self.resizeDocks(
            [self.study_dock, self.results_dock], [290, 370], Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.error_dock], [110], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_text = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setFormat("%v / %m images")
        self.progress.hide()
        self.model_label = QLabel("Model: loading…")
        self.device_label = QLabel("Device: —")
        bar.addWidget(self.status_text, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.device_label)

    def _handlers(self) -> dict:
        st, vm, io = self.state, self.vm, self.io
        return viewing_handlers(st, vm, self.viewer.fit_scale) | {
            "open_folder": io.open_folder_dialog, "open_files": io.open_files_dialog,
            "export_report": io.export_report, "export_csv": io.export_csv, "quit": self.close,
            "heatmap": st.set_heatmap_on, "deidentify": self._set_deidentified,
            "prev_patient": lambda: vm.step_patient(-1), "next_patient": lambda: vm.step_patient(1),
            "load_model": io.load_model_dialog, "cancel": self._cancel, "resume": self.session.resume,
            "shortcuts": self.show_shortcuts, "about": self.show_about, "device": io.change_device,
        }  # fmt: skip

    def _connect(self) -> None:
        s, a = self.session, self.actions_by_name
        s.study_opening.connect(lambda label: self._status(f"Opening {label}…", busy=True))
        s.study_opened.connect(self._on_study_opened)
        s.study_failed.connect(self.io.show_study_error)
        s.model_loading.connect(lambda path: self.model_label.setText("Model: loading…"))
        s.model_changed.connect(self._on_model_changed)
        s.model_failed.connect(self.io.show_model_error)
        s.progress.connect(self._on_progress)
        s.all_predicted.connect(lambda: self._status("All patients analysed"))
        self.vm.errors_changed.connect(self._on_errors_changed)
        self.state.heatmap_changed.connect(
            lambda: self._sync_check(a["heatmap"], self.state.heatmap_on)
        )
        self.state.heatmap_changed.connect(
            lambda: setattr(self.settings, "opacity", self.state.opacity)
        )
        self.state.cine_changed.connect(
            lambda: self._sync_check(a["cine"], self.state.cine_playing)
        )
        self.vm.deidentified_changed.connect(lambda on: self._sync_check(a["deidentify"], on))
        self.vm.deidentified_changed.connect(lambda _on: self._update_title())
        self.results.driver_clicked.connect(self.vm.select_image)

    @staticmethod
    def _sync_check(action, on: bool) -> None:
        if action.isChecked() != on:
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)

    def _restore_settings(self) -> None:
        geometry, state = self.settings.window_state()
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.error_dock.hide()  # shown again when the open study has errors
        self.vm.set_deidentified(self.settings.deidentified)
        self._sync_check(self.actions_by_name["deidentify"], self.vm.deidentified)
        self.actions_by_name[f"device_{self.settings.device}"].setChecked(True)

    # ----- reactions ---------------------------------------------------------------------------
    def _status(self, text: str, busy: bool = False) -> None:
        self.status_text.setText(text)
        if busy:
            self.progress.setRange(0, 0)
            self.progress.show()

    def _on_study_opened(self, label: str) -> None:
        n = len(self.vm.patients)
        self._status(
            f"Opened {n} patient{'s' if n != 1 else ''}, {len(self.vm.cohort.images)} images"
        )
        self.progress.hide()
        self._update_title()
        self.viewer.setFocus()

    def _on_progress(self, done: int, total: int) -> None:
        if total <= 0:
            self.progress.hide()
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.show()
        self.status_text.setText(
            "Analysing…" if not self.session.paused else "Analysis stopped (Ctrl+R resumes)"
        )

    def _on_model_changed(self, info) -> None:
        self.model_label.setText(f"Model: {info.card.name} ({info.card.weights_sha256[:12]})")
        self.device_label.setText(f"Device: {info.device}")
        self.heatmap_controls.rebuild_classes()
        self.settings.last_model = info.path

    def _on_errors_changed(self) -> None:
        n = len(self.vm.errors)
        self.error_dock.setWindowTitle(f"Files not loaded ({n})")
        if n and not self.error_dock.isVisible():
            self.error_dock.show()

    def _set_deidentified(self, on: bool) -> None:
        self.vm.set_deidentified(on)
        self.settings.deidentified = on

    def _cancel(self) -> None:
        self.session.cancel()
        self._status("Analysis stopped (Ctrl+R resumes)")

    def _update_title(self) -> None:
        source = self.vm.cohort.source if self.vm.cohort else ""
        if self.vm.deidentified or not source:
            self.setWindowTitle("CNSight" + (" — de-identified" if self.vm.deidentified else ""))
        else:
            self.setWindowTitle(f"CNSight — {source}")

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(shortcut_rows(), self)
        dialog.show()
        return dialog

    def show_about(self) -> ModelCardDialog:
        dialog = ModelCardDialog(self.session.model.model, self)
        dialog.show()
        return dialog

    # ----- drag and drop, closing --------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.io.open_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.closing.emit()
        self.session.shutdown()
        super().closeEvent(event)
