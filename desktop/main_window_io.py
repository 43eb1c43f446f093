"""What the main window does with files: open studies (dialogs, recent list), load model
bundles, change device, export, and show errors without blocking (no modal exec loops)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from .export import snapshot_patient, write_patient_report, write_predictions_csv

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(f"cnsight.{__name__}")

STUDY_FILTER = (
    "Studies (*.dcm *.dicom DICOMDIR *.csv *.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"
)


class WindowIO:
    def __init__(self, window: MainWindow):
        self.w = window
        self.last_message: QMessageBox | None = None
        self.last_export: list[Path] = []

    # ----- opening -----------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        paths = [Path(p) for p in paths]
        self.w.session.open(paths)
        self.w.settings.add_recent_study("\n".join(str(p) for p in paths))
        self.rebuild_recent_menu()

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open study folder")
        if folder:
            self.open_paths([Path(folder)])

    def open_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.w, "Open images, DICOMDIR or manifest CSV", "", STUDY_FILTER
        )
        if files:
            self.open_paths([Path(f) for f in files])

    def rebuild_recent_menu(self) -> None:
        menu = (
            self.w.actions_by_name.get("_recent_menu")
            if hasattr(self.w, "actions_by_name")
            else None
        )
        if menu is None:
            return
        menu.clear()
        recent = self.w.settings.recent_studies
        for entry in recent:
            paths = entry.split("\n")
            text = paths[0] + (f"  (+{len(paths) - 1} more)" if len(paths) > 1 else "")
            menu.addAction(text).triggered.connect(
                lambda _c=False, p=paths: self.open_paths([Path(x) for x in p])
            )
        if recent:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(self._clear_recent)
        menu.setEnabled(bool(recent))

    def _clear_recent(self) -> None:
        self.w.settings.clear_recent_studies()
        self.rebuild_recent_menu()

    # ----- model -------------------------------------------------------------------------------
    def load_model_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.w, "Load model bundle (folder with model_card.json)"
        )
        if folder:
            self.w.session.load_model(Path(folder), self.w.settings.device)

    def change_device(self, device: str) -> None:
        self.w.settings.device = device
        info = self.w.session.model.model
        if info is not None:
            self.w.session.load_model(info.path, device)

    # ----- messages (non-blocking) -------------------------------------------------------------
    def _message(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.w)
        box.setModal(False)
        box.show()
        self.last_message = box
        return box

    def show_study_error(self, message: str) -> None:
        self.w._status("Could not open the study")
        self.w.progress.hide()
        self._message(QMessageBox.Icon.Warning, "Could not open the study", message)

    def show_model_error(self, message: str) -> None:
        info = self.w.session.model.model
        kept = (
            f"\n\nStill using: {info.card.name} on {info.device}."
            if info
            else "\n\nNo model is loaded."
        )
        self.w.model_label.setText(
            f"Model: {info.card.name} ({info.card.weights_sha256[:12]})" if info else "Model: none"
        )
        self._message(QMessageBox.Icon.Critical, "Model not loaded", f"{message}{kept}")
        self._sync_device_menu()

    def _sync_device_menu(self) -> None:
        self.w.actions_by_name[f"device_{self.w.settings.device}"].setChecked(True)

    # ----- export ------------------------------------------------------------------------------
    def export_report(self, path: Path | None = None) -> None:
        try:
            data = snapshot_patient(self.w.vm, self.w.session.model.model, self.w.state.opacity)
        except ValueError as exc:
            self._message(QMessageBox.Icon.Information, "Report not available", str(exc))
            return
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self.w, "Save patient report", f"{data.patient_label}.pdf", "PDF (*.pdf)"
            )
            if not name:
                return
            path = Path(name)
        self.w._status(f"Writing {path.name}…")
        self.w.session.runner.run(
            lambda: write_patient_report(path, data),
            self._exported,
            lambda exc: self._export_failed(path, exc),
        )

    def export_csv(self, path: Path | None = None) -> None:
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self.w, "Save predictions", "predictions.csv", "CSV (*.csv)"
            )
            if not name:
                return
            path = Path(name)
        try:
            written = write_predictions_csv(path, self.w.vm)  # small: rows of numbers, fine here
        except OSError as exc:
            self._export_failed(path, exc)
            return
        self._exported(list(written))

    def _exported(self, paths) -> None:
        self.last_export = [
            Path(p) for p in (paths if isinstance(paths, list | tuple) else [paths])
        ]
        self.w._status("Saved " + ", ".join(p.name for p in self.last_export))

    def _export_failed(self, path: Path, exc: BaseException) -> None:
        log.error("export to %s failed: %s", path, exc)
        self._message(QMessageBox.Icon.Warning, "Export failed", f"{path}: {exc}")
