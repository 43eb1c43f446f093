"""Small read-only panels: the per-file error list (the DICOM tag browser is
``widgets.tag_browser.TagTree``, also importable here as ``TagView``)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
)

from ..viewmodels.cohort import CohortViewModel
from .tag_browser import TagTree

#: The tag view's old name (reader-study tests look for it by this name).
TagView = TagTree


class ErrorList(QListWidget):
    """Files that could not be used, one line each with the reason (non-modal)."""

    def __init__(self, vm: CohortViewModel, parent=None):
        super().__init__(parent)
        self.vm = vm
        self.setObjectName("errorList")
        self.setWordWrap(True)
        vm.errors_changed.connect(self.refresh)
        vm.deidentified_changed.connect(lambda _on: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        for i, error in enumerate(self.vm.errors):
            # File and folder names often carry patient names or ids: hidden when de-identified.
            path = f"File {i + 1}" if self.vm.deidentified else error.path
            item = QListWidgetItem(f"{path} — {error.message}")
            item.setToolTip(error.path if not self.vm.deidentified else error.message)
            item.setData(Qt.ItemDataRole.UserRole, error.path)
            self.addItem(item)
