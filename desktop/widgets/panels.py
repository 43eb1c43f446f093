"""Small read-only panels: the DICOM tag view and the per-file error list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
)

from ..deid import visible_header
from ..viewmodels.cohort import CohortViewModel


class TagView(QTableWidget):
    """The current image's header (LoadedImage.header), identifying fields hidden when de-identified."""

    def __init__(self, vm: CohortViewModel, parent=None):
        super().__init__(0, 2, parent)
        self.vm = vm
        self.setObjectName("tagView")
        self.setHorizontalHeaderLabels(["Tag", "Value"])
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        self._shown: tuple | None = None
        vm.current_changed.connect(self.refresh)
        vm.pixels_changed.connect(lambda _key: self.refresh())
        vm.deidentified_changed.connect(lambda _on: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        image = self.vm.current_image
        header = image.header if image is not None else {}
        rows = visible_header(header, self.vm.deidentified)
        if not header and image is not None:
            rows = [("(no header)", "not a DICOM file: no tags to show")]
        # Frames of one cine share their header: skip the rebuild (30 fps playback).
        key = (dict(header), self.vm.deidentified, image is None)
        if key == self._shown:
            return
        self._shown = key
        self.setRowCount(len(rows))
        for i, (tag, value) in enumerate(rows):
            self.setItem(i, 0, QTableWidgetItem(tag))
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            self.setItem(i, 1, item)

    def tags(self) -> dict[str, str]:
        return {self.item(i, 0).text(): self.item(i, 1).text() for i in range(self.rowCount())}


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
