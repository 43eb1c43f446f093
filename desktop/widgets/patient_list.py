"""Patient list: one row per patient with its verdict badge (or its pipeline state)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
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


@dataclass(frozen=True)
class RowLayout:
    """Where a patient row's parts go: the id on the first line, over the whole width (elided
    only when it is longer than the row); the subtitle and the verdict badge share the second
    line, the badge right-aligned and never wider than the row, the subtitle elided first."""

    title: str
    title_rect: QRect
    title_font: QFont
    subtitle: str
    subtitle_rect: QRect
    badge: str
    badge_rect: QRect
    badge_font: QFont


ROW_HEIGHT = 48


def row_layout(rect: QRect, font: QFont, title: str, subtitle: str, badge: str) -> RowLayout:
    r = rect.adjusted(10, 4, -8, -4)
    title_font = QFont(font)
    title_font.setBold(True)
    small = QFont(font)
    small.setPointSizeF(font.pointSizeF() * 0.85)
    tfm, sfm = QFontMetrics(title_font), QFontMetrics(small)
    half = r.height() // 2
    title_rect = QRect(r.left(), r.top(), r.width(), half)
    shown_title = tfm.elidedText(title, Qt.TextElideMode.ElideMiddle, r.width())
    badge_text = sfm.elidedText(badge, Qt.TextElideMode.ElideRight, r.width() - 14)
    badge_w = sfm.horizontalAdvance(badge_text) + 14 if badge_text else 0
    badge_h = sfm.height() + 4
    bottom = QRect(r.left(), r.top() + half, r.width(), r.height() - half)
    badge_rect = QRect(
        r.right() - badge_w + 1, bottom.top() + (bottom.height() - badge_h) // 2, badge_w, badge_h
    )
    sub_w = max(0, r.width() - badge_w - 8)
    subtitle_rect = QRect(r.left(), bottom.top(), sub_w, bottom.height())
    shown_sub = sfm.elidedText(subtitle, Qt.TextElideMode.ElideRight, sub_w)
    return RowLayout(
        shown_title, title_rect, title_font, shown_sub, subtitle_rect, badge_text, badge_rect,
        small,
    )  # fmt: skip


class _BadgeDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(option.rect.width(), ROW_HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        p.fillRect(option.rect, QColor("#2b4f78") if selected else QColor(theme.BASE))
        row = row_layout(
            option.rect,
            option.font,
            index.data(Qt.ItemDataRole.DisplayRole) or "",
            index.data(SUBTITLE_ROLE) or "",
            index.data(BADGE_ROLE) or "",
        )
        left_middle = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        p.setFont(row.title_font)
        p.setPen(QColor(theme.TEXT))
        p.drawText(row.title_rect, left_middle, row.title)
        p.setFont(row.badge_font)
        p.setPen(QColor(theme.MUTED if not selected else "#cfd8e3"))
        p.drawText(row.subtitle_rect, left_middle, row.subtitle)
        if row.badge:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(index.data(COLOUR_ROLE) or theme.PENDING_COLOUR))
            p.drawRoundedRect(row.badge_rect, 8, 8)
            p.setPen(QColor("#101215"))
            p.drawText(row.badge_rect, Qt.AlignmentFlag.AlignCenter, row.badge)
        p.restore()


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

    def row_layout(self, row: int) -> RowLayout:
        """How ``row`` is painted at the list's current width (for tests and tooltips)."""
        item = self.item(row)
        return row_layout(
            self.visualItemRect(item),
            self.font(),
            item.text(),
            item.data(SUBTITLE_ROLE) or "",
            item.data(BADGE_ROLE) or "",
        )

    def _on_row_changed(self, row: int) -> None:
        if row >= 0:
            self.vm.select_patient(row)

    def _follow_current(self) -> None:
        if self.currentRow() != self.vm.patient_index:
            self.blockSignals(True)
            self.setCurrentRow(self.vm.patient_index)
            self.blockSignals(False)
