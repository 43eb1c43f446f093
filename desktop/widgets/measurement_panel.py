"""Measurements panel: the tools, the current image's scale, and its measurements (editable
kind, value, GA and centile, delete), with where they are saved."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.measurements.biometry import KINDS, kinds_for_tool

from .. import theme
from ..viewmodels.cohort import CohortViewModel
from ..viewmodels.measurements import TOOLS, MeasurementsViewModel

_TOOL_TIPS = {
    code: f"{KINDS[code].name}"
    + (f" — {KINDS[code].plane}, {KINDS[code].how}" if KINDS[code].plane else "")
    for code in TOOLS
}


def scale_text(image) -> str:
    """What the current image's header says about its scale, in one line."""
    if image is None:
        return ""
    cal = image.calibration
    if cal is None:
        return "No physical scale (not a DICOM file): measurements in pixels."
    parts = []
    for i, region in enumerate(cal.regions):
        mm = region.mm_per_px
        if mm is None:
            parts.append(f"region {i + 1}: {region.units_x} × {region.units_y}, no mm")
        elif abs(mm[0] - mm[1]) < 1e-9:
            parts.append(f"region {i + 1}: {mm[0]:.3f} mm/px")
        else:
            parts.append(f"region {i + 1}: {mm[0]:.3f} × {mm[1]:.3f} mm/px")
    if parts:
        return "Scale (DICOM US regions): " + "; ".join(parts) + ". Outside them: pixels."
    if cal.pixel_spacing is not None:
        row, col = cal.pixel_spacing
        return f"Scale ({cal.spacing_source}): {col:.3f} × {row:.3f} mm/px."
    return "No physical scale in the file: measurements in pixels."


class MeasurementPanel(QWidget):
    def __init__(self, vm: CohortViewModel, mvm: MeasurementsViewModel, parent=None):
        super().__init__(parent)
        self.vm, self.mvm = vm, mvm
        self.setObjectName("measurementPanel")
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(False)  # a second click on the active tool turns it off
        self.tool_buttons: dict[str, QToolButton] = {}
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, (code, text) in enumerate(TOOLS.items()):
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setObjectName(f"tool_{code}")
            button.setToolTip(_TOOL_TIPS[code])
            button.setMinimumWidth(44)
            self.tool_group.addButton(button)
            self.tool_buttons[code] = button
            row, col = (0, i) if i < 2 else (1, i - 2)
            grid.addWidget(button, row, col)
            button.clicked.connect(lambda checked, c=code: mvm.set_tool(c if checked else None))
        self.scale = QLabel()
        self.scale.setObjectName("muted")
        self.scale.setWordWrap(True)
        self.hint = QLabel(
            "Drag on the image to measure (an ellipse: drag its long axis, then its side "
            "handle). Drag a cross to move it; Delete removes the selected one."
        )
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("measurementTable")
        self.table.setHorizontalHeaderLabels(["Measure", "Value", "Details", ""])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.saved = QLabel()
        self.saved.setObjectName("muted")
        self.saved.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(6)
        title = QLabel("MEASUREMENTS")
        title.setObjectName("sectionTitle")
        lay.addWidget(title)
        lay.addLayout(grid)
        lay.addWidget(self.hint)
        lay.addWidget(self.scale)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.saved)
        self._ids: list[str] = []
        # Rebuilt after the signal that asked for it returns: a row's own combo box or delete
        # button must not be destroyed inside its own signal.
        self._pending = False
        mvm.changed.connect(lambda _key: self.refresh_soon())
        mvm.tool_changed.connect(lambda _kind: self._sync_tools())
        mvm.selection_changed.connect(lambda _id: self._sync_selection())
        mvm.message.connect(lambda _text: self._show_saved())
        vm.current_changed.connect(self.refresh)
        vm.deidentified_changed.connect(lambda _on: self.refresh())
        self.refresh()

    def refresh_soon(self) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.refresh)

    def _sync_tools(self) -> None:
        for code, button in self.tool_buttons.items():
            button.setChecked(code == self.mvm.tool)

    def refresh(self) -> None:
        self._pending = False
        ref, image = self.vm.current_ref, self.vm.current_image
        self.scale.setText(scale_text(image))
        items = self.mvm.measurements(ref)
        self._ids = [m.id for m in items]
        self.table.blockSignals(True)
        self.table.setRowCount(len(items))
        for row, m in enumerate(items):
            result = self.mvm.result(ref, m, image)
            kind = QComboBox()
            kind.setObjectName("measurementKind")
            for code in kinds_for_tool(m.tool):
                kind.addItem(
                    code if code not in ("distance", "ellipse") else KINDS[code].name, code
                )
            kind.setCurrentIndex(kind.findData(m.kind))
            kind.setToolTip(KINDS[m.kind].name)
            kind.currentIndexChanged.connect(
                lambda i, box=kind, mid=m.id: self.mvm.relabel(ref, mid, box.itemData(i))
            )
            self.table.setCellWidget(row, 0, kind)
            value = QTableWidgetItem(result.value_text() if result else "…")
            if result is not None and not result.scale.calibrated:
                value.setForeground(Qt.GlobalColor.yellow)
            self.table.setItem(row, 1, value)
            details = "; ".join(result.details()) if result else "image not loaded"
            detail_item = QTableWidgetItem(details)
            detail_item.setToolTip(details)
            self.table.setItem(row, 2, detail_item)
            delete = QPushButton("✕")
            delete.setObjectName("deleteMeasurement")
            delete.setToolTip("Delete this measurement")
            delete.setFixedWidth(28)
            delete.clicked.connect(lambda _c=False, mid=m.id: self.mvm.delete(ref, mid))
            self.table.setCellWidget(row, 3, delete)
        self.table.resizeRowsToContents()
        self.table.blockSignals(False)
        self._sync_selection()
        self._show_saved()

    def _show_saved(self) -> None:
        mvm = self.mvm
        if mvm.error:
            self.saved.setText(mvm.error)
            self.saved.setStyleSheet(f"color: {theme.FAILED_COLOUR};")
            return
        self.saved.setStyleSheet("")
        if mvm.path is None:
            self.saved.setText("")
        elif self.vm.deidentified:
            self.saved.setText("Saved with the study (measurements file beside its images).")
        else:
            self.saved.setText(f"Saved with the study: {mvm.path}")

    def _sync_selection(self) -> None:
        self.table.blockSignals(True)
        self.table.clearSelection()
        if self.mvm.selected in self._ids:
            self.table.selectRow(self._ids.index(self.mvm.selected))
        self.table.blockSignals(False)

    def _on_selection(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        self.mvm.select(self._ids[min(rows)] if rows else None)

    def values(self) -> list[tuple[str, str, str]]:
        """(kind, value, details) of each row, as shown (for tests)."""
        return [
            (
                self.table.cellWidget(r, 0).currentData(),
                self.table.item(r, 1).text(),
                self.table.item(r, 2).text(),
            )
            for r in range(self.table.rowCount())
        ]
