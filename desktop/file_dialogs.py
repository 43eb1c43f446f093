"""Asking the user for paths (Qt file dialogs); each returns the answer, or nothing on Cancel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

STUDY_FILTER = (
    "Studies (*.dcm *.dicom DICOMDIR *.csv *.png *.jpg *.jpeg *.bmp *.tif *.tiff);;All files (*)"
)


def ask_study_folder(parent: QWidget) -> Path | None:
    folder = QFileDialog.getExistingDirectory(parent, "Open study folder")
    return Path(folder) if folder else None


def ask_study_files(parent: QWidget) -> list[Path]:
    files, _ = QFileDialog.getOpenFileNames(
        parent, "Open images, DICOMDIR or manifest CSV", "", STUDY_FILTER
    )
    return [Path(f) for f in files]


def ask_model_bundle(parent: QWidget) -> Path | None:
    folder = QFileDialog.getExistingDirectory(
        parent, "Load model bundle (folder with model_card.json)"
    )
    return Path(folder) if folder else None


def ask_save_path(parent: QWidget, title: str, suggested: str, file_filter: str) -> Path | None:
    name, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
    return Path(name) if name else None
