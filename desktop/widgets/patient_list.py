"""Patient list: one row per patient with its verdict badge (or its pipeline state)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from .. import theme
from ..verdict_text import patient_badge
from ..viewmodels.cohort import CohortViewModel, PatientStatus
from ..viewmodels.groups import patient_key

KEY_ROLE = Qt.ItemDataRole.UserRole
BADGE_ROLE = Qt.ItemDataRole.UserRole + 1
COLOUR_ROLE = Qt.ItemDataRole.UserRole + 2
SUBTITLE_ROLE = Qt.ItemDataRole.UserRole + 3

_STATUS_TEXT = {
    PatientStatus.QUEUED: "queued",
    PatientStatus.LOADING: "loading…",
    PatientStatus.PREDICTING: "analysing…",
    PatientStatus.FAILED: "no result",
}


def badge_for(vm: CohortViewModel, key: str) -> tuple[str, str]:
    """Badge text and colour: the verdict with its probability, else the pipeline state."""
    verdict = vm.verdict(key)
    if verdict is not None:
        return patient_badge(verdict)
    status = vm.status(key)
    colour = theme.FAILED_COLOUR if status == PatientStatus.FAILED else theme.PENDING_COLOUR
    return _STATUS_TEXT.get(status, status), colour


class _BadgeDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(option.rect.width(), 44)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        p.fillRect(option.rect, QColor("#2b4f78") if selected else QColor(theme.BASE))
        r = option.rect.adjusted(10, 4, -8, -4)
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.85)
        badge = index.data(BADGE_ROLE) or ""
        badge_w = self._paint_badge(
            p, r, badge, index.data(COLOUR_ROLE) or theme.PENDING_COLOUR, small
        )
        title_font = QFont(option.font)
        title_font.setBold(True)
        p.setFont(title_font)
        p.setPen(QColor(theme.TEXT))
        title_w = r.width() - badge_w - 8  # long ids are elided, never drawn under the badge
        title = p.fontMetrics().elidedText(
            index.data(Qt.ItemDataRole.DisplayRole), Qt.TextElideMode.ElideMiddle, title_w
        )
        top_half = QRect(r.left(), r.top(), title_w, r.height() // 2 + 2)
        p.drawText(top_half, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
        p.setFont(small)
        p.setPen(QColor(theme.MUTED if not selected else "#cfd8e3"))
        bottom_half = QRect(r.left(), r.top() + r.height() // 2, r.width(), r.height() // 2)
        subtitle = index.data(SUBTITLE_ROLE) or ""
        p.drawText(
            bottom_half, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, subtitle
        )
        p.restore()

    @staticmethod
    def _paint_badge(p: QPainter, r: QRect, text: str, colour: str, font: QFont) -> int:
        p.setFont(font)
        fm = p.fontMetrics()
        w = fm.horizontalAdvance(text) + 14
        pill = QRect(
            r.right() - w, r.top() + (r.height() // 2 - fm.height()) // 2, w, fm.height() + 4
        )
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(colour))
        p.drawRoundedRect(pill, 8, 8)
        p.setPen(QColor("#101215"))
        p.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        return w


class PatientList(QListWidget):
    """Thin: rebuilt from the view-model, selection forwarded to it."""

    def __init__(self, vm: CohortViewModel, parent=None):
        super().__init__(parent)
        self.vm = vm
        self.setObjectName("patientList")
        self.setItemDelegate(_BadgeDelegate(self))
        self.setUniformItemSizes(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        vm.study_changed.connect(self.rebuild)
        vm.deidentified_changed.connect(lambda _on: self.rebuild())
        vm.patient_status_changed.connect(self.refresh_patient)
        vm.predictions_changed.connect(self.refresh_patient)
        vm.current_changed.connect(self._follow_current)
        self.currentRowChanged.connect(self._on_row_changed)
        self.rebuild()

    def rebuild(self) -> None:
        self.blockSignals(True)
        self.clear()
        for i, patient in enumerate(self.vm.patients):
            item = QListWidgetItem(self.vm.patient_label(i))
            item.setData(KEY_ROLE, patient_key(patient))
            self.addItem(item)
            self._fill(item)
        self.setCurrentRow(self.vm.patient_index)
        self.blockSignals(False)

    def _fill(self, item: QListWidgetItem) -> None:
        key = item.data(KEY_ROLE)
        patient = self.vm.patient(key)
        text, colour = badge_for(self.vm, key)
        item.setData(BADGE_ROLE, text)
        item.setData(COLOUR_ROLE, colour)
        n = len(self.vm.groups(key))
        frames = len(patient.images) if patient else 0
        subtitle = f"{n} file{'s' if n != 1 else ''}" + (
            f", {frames} images" if frames != n else ""
        )
        if patient is not None and patient.ga_weeks is not None:
            subtitle += f" · GA {patient.ga_weeks:.0f} w"
        item.setData(SUBTITLE_ROLE, subtitle)
        item.setToolTip(f"{item.text()}: {text}")

    def refresh_patient(self, key: str) -> None:
        for row in range(self.count()):
            item = self.item(row)
            if item.data(KEY_ROLE) == key:
                self._fill(item)
                return

    def badge_text(self, row: int) -> str:
        return self.item(row).data(BADGE_ROLE)

    def _on_row_changed(self, row: int) -> None:
        if row >= 0:
            self.vm.select_patient(row)

    def _follow_current(self) -> None:
        if self.currentRow() != self.vm.patient_index:
            self.blockSignals(True)
            self.setCurrentRow(self.vm.patient_index)
            self.blockSignals(False)
