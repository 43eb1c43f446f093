"""The main window: assembles its parts around the view-models and the analysis pipeline.

Layout (medical-viewer style, dark): the viewer pane in the centre (research-use banner, the
viewer, cine and heatmap bars: ``viewer_pane.ViewerPane``, shared with the reading window);
patients and their images on the left; AI results and DICOM tags on the right; files that
could not be used in a bottom dock; progress, model and device in the status bar. What it does
with files are small operations (``file_ops``) that report back through signals.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QWidget,
)

from core.heatmap_overlay import DEFAULT_OPACITY

from . import file_ops
from .dialogs import ModelCardDialog, ReportDialog, ShortcutsDialog, show_message
from .export import export_notice, snapshot_patient
from .file_dialogs import ask_model_bundle, ask_save_path, ask_study_files, ask_study_folder
from .identity import app_icon, app_title
from .measurement_export import report_measurements
from .model_worker import ModelInfo
from .pacs.menu import add_pacs_menu
from .pipeline import AnalysisPipeline
from .reading.start import add_reader_study_entry
from .recent_menu import fill_recent_menu
from .report_facts import exam_facts, with_viewer_heatmaps
from .settings import AppSettings
from .viewer_pane import ViewerPane
from .viewmodels.measurements import MeasurementsViewModel
from .widgets.measure_tool import MeasureTool
from .widgets.measurement_panel import MeasurementPanel
from .widgets.panels import ErrorList
from .widgets.patient_list import PatientList
from .widgets.results_panel import ResultsPanel
from .widgets.status_bar import AnalysisStatus
from .widgets.tag_browser import TagTree
from .widgets.thumbnails import ThumbnailStrip
from .window_actions import (
    ACTIONS,
    build_actions,
    follow_viewer_state,
    keep_checked,
    menu_names,
    shortcut_rows,
    viewing_handlers,
)

log = logging.getLogger(f"cnsight.{__name__}")

#: Heatmap opacity in the PDF report (independent of the viewer's slider).
REPORT_OPACITY = DEFAULT_OPACITY


class MainWindow(QMainWindow):
    closing = Signal()

    def __init__(
        self, session: AnalysisPipeline, settings: AppSettings, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.session, self.vm, self.settings = session, session.vm, settings
        self.setObjectName("mainWindow")
        self.setWindowTitle(app_title())
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1440, 900)
        self.pane = ViewerPane(self.vm, session)
        self.state = self.pane.state
        self.measurements = MeasurementsViewModel(self.vm, self)
        self.pane.viewer.measure_tool = MeasureTool(self.vm, self.measurements, self)
        self.state.set_opacity(settings.opacity)
        self.setCentralWidget(self.pane)
        self._build_docks()
        self.status = AnalysisStatus(self.statusBar())
        self.reports = file_ops.OpReports(self)
        self.last_message: QMessageBox | None = None
        self.last_dialog: ReportDialog | None = None
        self.last_export: list[Path] = []
        self.actions_by_name = build_actions(self, self._handlers())
        # File > Reader study…: read a reader study's cases (desktop/reading/start.py)
        self.actions_by_name["reader_study"] = add_reader_study_entry(self, settings.device)
        # PACS > Study browser…, Send results to PACS…, PACS nodes… (desktop/pacs/menu.py)
        self.pacs = add_pacs_menu(self)
        self._fill_recent_menu()
        self._connect()
        self._restore_settings()

    # ----- construction ------------------------------------------------------------------------
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
        self.tags = TagTree(self.vm)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(scroll, "AI results")
        self.measurement_panel = MeasurementPanel(self.vm, self.measurements)
        self.side_tabs.addTab(self.tags, "DICOM tags")
        self.side_tabs.addTab(self.measurement_panel, "Measurements")
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

    def _handlers(self) -> dict:
        st, vm = self.state, self.vm
        return viewing_handlers(st, vm, self.pane.viewer.fit_scale) | {
            "open_folder": self.open_folder, "open_files": self.open_files,
            "export_report": self.export_report, "export_csv": self.export_csv, "quit": self.close,
            "heatmap": st.set_heatmap_on, "deidentify": self._set_deidentified,
            "prev_patient": lambda: vm.step_patient(-1), "next_patient": lambda: vm.step_patient(1),
            "load_model": self.load_model, "cancel": self._cancel, "resume": self.session.resume,
            "shortcuts": self.show_shortcuts, "about": self.show_about, "device": self.change_device,
            "backend": self.change_backend,
        }  # fmt: skip

    def _connect(self) -> None:
        s, a, status = self.session, self.actions_by_name, self.status
        s.study_opening.connect(lambda label: status.show_message(f"Opening {label}…", busy=True))
        s.study_opened.connect(self._on_study_opened)
        s.study_failed.connect(self.show_study_error)
        s.model_loading.connect(lambda _path: status.show_model_loading())
        s.model_changed.connect(self._on_model_changed)
        s.model_failed.connect(self._on_model_failed)
        s.progress.connect(lambda done, total: status.show_progress(done, total, s.paused))
        s.all_predicted.connect(lambda: status.show_message("All patients analysed"))
        self.reports.status.connect(status.show_message)
        self.reports.saved.connect(self._on_saved)
        self.reports.failed.connect(
            lambda title, text: self.show_message(QMessageBox.Icon.Warning, title, text)
        )
        self.vm.errors_changed.connect(self._on_errors_changed)
        follow_viewer_state(a, self.state)
        self.state.heatmap_changed.connect(
            lambda: setattr(self.settings, "opacity", self.state.opacity)
        )
        self.vm.deidentified_changed.connect(lambda on: keep_checked(a["deidentify"], on))
        self.vm.deidentified_changed.connect(lambda _on: self._update_title())
        self.results.driver_clicked.connect(self.vm.select_image)
        m = self.measurements
        for signal in (m.changed, m.tool_changed, m.selection_changed):
            signal.connect(lambda *_: self.pane.viewer.update())
        m.tool_changed.connect(
            lambda kind: self.pane.viewer.setCursor(
                Qt.CursorShape.CrossCursor if kind else Qt.CursorShape.ArrowCursor
            )
        )
        m.message.connect(lambda text: status.show_message(text))

    def _restore_settings(self) -> None:
        geometry, state = self.settings.window_state()
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self.error_dock.hide()  # shown again when the open study has errors
        self.vm.set_deidentified(self.settings.deidentified)
        keep_checked(self.actions_by_name["deidentify"], self.vm.deidentified)
        self.actions_by_name[f"device_{self.settings.device}"].setChecked(True)
        self.actions_by_name[f"backend_{self.settings.backend}"].setChecked(True)

    # ----- opening studies, loading models ---------------------------------------------------
    def open_paths(self, paths: Sequence[Path]) -> None:
        file_ops.open_study(self.session, self.settings, paths)
        self._fill_recent_menu()

    def open_folder(self) -> None:
        folder = ask_study_folder(self)
        if folder is not None:
            self.open_paths([folder])

    def open_files(self) -> None:
        files = ask_study_files(self)
        if files:
            self.open_paths(files)

    def _fill_recent_menu(self) -> None:
        fill_recent_menu(
            self.actions_by_name["_recent_menu"],
            self.settings.recent_studies,
            self.open_paths,
            self._clear_recent,
        )

    def _clear_recent(self) -> None:
        self.settings.clear_recent_studies()
        self._fill_recent_menu()

    def load_model(self) -> None:
        bundle = ask_model_bundle(self)
        if bundle is not None:
            file_ops.load_model(self.session, self.settings, bundle)

    def change_device(self, device: str) -> None:
        file_ops.change_device(self.session, self.settings, device)

    def change_backend(self, backend: str) -> None:
        file_ops.change_backend(self.session, self.settings, backend)

    # ----- exports ---------------------------------------------------------------------------
    def export_report(
        self, path: Path | None = None, impression: str | None = None, reader: str | None = None
    ) -> ReportDialog | None:
        """The current patient's PDF, painted off the GUI thread. Without ``impression`` and
        ``path``, the report dialog asks for the impression and the reader's name first."""
        try:
            data = self.report_data()
        except ValueError as exc:
            self.show_message(QMessageBox.Icon.Information, "Report not available", str(exc))
            return None
        if path is None and impression is None:
            dialog = ReportDialog(data.patient_label, self.settings.reader_name, self)
            dialog.signed.connect(lambda text, name: self.export_report(None, text, name))
            dialog.show()
            self.last_dialog = dialog
            return dialog
        if reader:
            self.settings.reader_name = reader
        data = replace(data, impression=impression or "", reader=reader or "")
        path = path or ask_save_path(
            self, "Save patient report", f"{data.patient_label}.pdf", "PDF (*.pdf)"
        )
        if path is not None:
            file_ops.export_report(self.session.runner, self.reports, path, data)
        return None

    def report_data(self):
        """What the report shows, copied now (raises ValueError when the patient has no result)."""
        # The report's heatmaps are drawn at one fixed opacity, whatever the screen's.
        data = snapshot_patient(self.vm, self.session.model.model, REPORT_OPACITY)
        data = with_viewer_heatmaps(data, self.vm, REPORT_OPACITY)
        return replace(
            data,
            measurements=report_measurements(self.vm, self.measurements),
            exam=exam_facts(self.vm, self.measurements),
        )

    def export_csv(self, path: Path | None = None) -> None:
        path = path or ask_save_path(self, "Save predictions", "predictions.csv", "CSV (*.csv)")
        if path is not None:
            file_ops.export_csv(self.reports, path, self.vm, self.measurements)

    def _on_saved(self, paths: list[Path]) -> None:
        self.last_export = list(paths)
        self.status.show_message(
            f"Saved {', '.join(p.name for p in paths)}. {export_notice(self.vm.deidentified)}"
        )

    # ----- reactions ---------------------------------------------------------------------------
    def show_message(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        self.last_message = show_message(self, icon, title, text)
        return self.last_message

    def show_study_error(self, message: str) -> None:
        self.status.show_message("Could not open the study")
        self.status.end_busy()
        self.show_message(QMessageBox.Icon.Warning, "Could not open the study", message)

    def _on_study_opened(self, _label: str) -> None:
        n = len(self.vm.patients)
        self.status.show_message(
            f"Opened {n} patient{'s' if n != 1 else ''}, {len(self.vm.cohort.images)} images"
        )
        self.status.end_busy()
        self._update_title()
        self.pane.viewer.setFocus()

    def _on_model_changed(self, info: ModelInfo) -> None:
        self.status.show_model(info)
        self.settings.last_model = info.path

    def _on_model_failed(self, message: str) -> None:
        info = self.session.model.model  # the model still in use, if any
        kept = (
            f"\n\nStill using: {info.card.name} on {info.device}."
            if info
            else "\n\nNo model is loaded."
        )
        self.status.show_model(info)
        self.show_message(QMessageBox.Icon.Critical, "Model not loaded", f"{message}{kept}")
        self.actions_by_name[f"device_{self.settings.device}"].setChecked(True)
        self.actions_by_name[f"backend_{self.settings.backend}"].setChecked(True)

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
        self.status.show_message("Analysis stopped (Ctrl+R resumes)")

    def _update_title(self) -> None:
        source = self.vm.cohort.source if self.vm.cohort else ""
        if self.vm.deidentified or not source:
            self.setWindowTitle(app_title("de-identified" if self.vm.deidentified else ""))
        else:
            self.setWindowTitle(app_title(source))

    def show_shortcuts(self) -> ShortcutsDialog:
        # The window's own table and the PACS menu's, in the order of the menu bar.
        rows = shortcut_rows(ACTIONS + self.pacs.specs, menu_names(self))
        dialog = ShortcutsDialog(rows, self)
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
            self.open_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.closing.emit()
        self.session.shutdown()
        super().closeEvent(event)
