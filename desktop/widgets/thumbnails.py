"""Thumbnail strip of the current patient's files, each with its top class and probability.

A cine (multi-frame file) is one entry; its probability is the mean over its frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from core.burned_text import TEXT_MASKER, grown
from core.domain import REASONS

from .. import theme
from ..rendering import deidentify_pixels, to_qimage
from ..verdict_text import NOT_ASSESSABLE_TEXT, outside_sentence, percent, short_name
from ..viewmodels.cohort import CohortViewModel
from ..viewmodels.groups import patient_key

THUMB_W, THUMB_H = 96, 72
IMAGE_ROLE = Qt.ItemDataRole.UserRole
PRED_ROLE = Qt.ItemDataRole.UserRole + 1
COLOUR_ROLE = Qt.ItemDataRole.UserRole + 2
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 3


def deidentified_thumbnail(thumb: np.ndarray, image) -> np.ndarray:
    """The thumbnail masked like the full image: the region and, when OCR has already run for
    the image (cached, free to ask; the reading mode runs it while a case loads), the text
    lines it found, scaled to the thumbnail's size (outward, so no glyph edge stays)."""
    scale = thumb.shape[1] / image.pixels.shape[1]
    region = None if image.region is None else tuple(int(round(v * scale)) for v in image.region)
    found = TEXT_MASKER.known(image.pixels) or ()
    boxes = [
        (int(x0 * scale), int(y0 * scale), int(np.ceil(x1 * scale)), int(np.ceil(y1 * scale)))
        for x0, y0, x1, y1 in (grown(b.box, image.pixels.shape) for b in found)
    ]
    return deidentify_pixels(thumb, region, boxes)


def prediction_text(vm: CohortViewModel, group) -> tuple[str, str]:
    """The thumbnail's badge: the group's class and probability, grey "Not assessable" when
    no frame is one the model can assess, "…" while it is not predicted."""
    check = vm.group_check(group)
    if check is None or not vm.class_names:
        return "…", theme.PENDING_COLOUR
    probs = vm.group_probabilities(group)
    if probs is None:
        return NOT_ASSESSABLE_TEXT, theme.PENDING_COLOUR
    k = int(np.argmax(probs))
    name = vm.class_names[k]
    return f"{short_name(name)} {percent(float(probs[k]), 0)}", theme.verdict_colour(name)


_FIGURE = re.compile(r"\s((?:[<>] )?[\d.]+%)$")


@dataclass(frozen=True)
class ThumbLines:
    """The three lines beside a thumbnail, fitted to ``width``: the file name (elided in the
    middle), the class and its figure (the class shortened, the figure always whole), the
    detail (elided)."""

    name: str
    prediction: str
    detail: str
    width: int


def fit_prediction(fm: QFontMetrics, text: str, width: int) -> str:
    """``text`` ("Anencephaly > 99%") within ``width``: the class is elided, never the figure."""
    if fm.horizontalAdvance(text) <= width:
        return text
    match = _FIGURE.search(text)
    if match is None:
        return fm.elidedText(text, Qt.TextElideMode.ElideRight, width)
    figure = match.group(1)
    room = width - fm.horizontalAdvance(" " + figure)
    name = fm.elidedText(text[: match.start()], Qt.TextElideMode.ElideRight, max(0, room))
    return f"{name} {figure}" if name else figure


def thumb_lines(rect: QRect, font: QFont, name: str, prediction: str, detail: str) -> ThumbLines:
    r = rect.adjusted(6, 5, -6, -5)
    width = max(0, r.width() - THUMB_W - 10)
    bold = QFont(font)
    bold.setBold(True)
    fm = QFontMetrics(font)
    return ThumbLines(
        fm.elidedText(name, Qt.TextElideMode.ElideMiddle, width),
        fit_prediction(QFontMetrics(bold), prediction, width),
        fm.elidedText(detail, Qt.TextElideMode.ElideRight, width),
        width,
    )


class _ThumbDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(option.rect.width(), THUMB_H + 10)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        p.fillRect(option.rect, QColor("#2b4f78") if selected else QColor(theme.BASE))
        r = option.rect.adjusted(6, 5, -6, -5)
        box = QRect(r.left(), r.top(), THUMB_W, THUMB_H)
        p.fillRect(box, Qt.GlobalColor.black)
        image: QImage | None = index.data(IMAGE_ROLE)
        if image is not None:
            scaled = image.scaled(
                box.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            p.drawImage(
                box.left() + (THUMB_W - scaled.width()) // 2,
                box.top() + (THUMB_H - scaled.height()) // 2,
                scaled,
            )
        lines = thumb_lines(
            option.rect,
            option.font,
            index.data(Qt.ItemDataRole.DisplayRole) or "",
            index.data(PRED_ROLE) or "",
            index.data(DETAIL_ROLE) or "",
        )
        text_rect = QRect(box.right() + 10, r.top(), lines.width, r.height())
        font = QFont(option.font)
        p.setFont(font)
        fm = p.fontMetrics()
        top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        p.setPen(QColor(theme.TEXT))
        p.drawText(text_rect.adjusted(0, 4, 0, 0), top_left, lines.name)
        p.setPen(QColor(index.data(COLOUR_ROLE) or theme.MUTED))
        bold = QFont(font)
        bold.setBold(True)
        p.setFont(bold)
        p.drawText(text_rect.adjusted(0, 4 + fm.height() + 4, 0, 0), top_left, lines.prediction)
        p.setFont(font)
        p.setPen(QColor(theme.MUTED))
        p.drawText(text_rect.adjusted(0, 4 + 2 * (fm.height() + 4), 0, 0), top_left, lines.detail)
        p.restore()


class ThumbnailStrip(QListWidget):
    def __init__(self, vm: CohortViewModel, parent=None):
        super().__init__(parent)
        self.vm = vm
        self.setObjectName("thumbnailStrip")
        self.setItemDelegate(_ThumbDelegate(self))
        self.setUniformItemSizes(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._patient: str | None = None
        # False in reader-study unaided reads: no AI text at all, not even a "pending" mark.
        self.show_predictions = True
        vm.current_changed.connect(self._on_current_changed)
        vm.pixels_changed.connect(self._on_patient_data)
        vm.predictions_changed.connect(self._on_patient_data)
        vm.study_changed.connect(self.rebuild)
        vm.deidentified_changed.connect(lambda _on: self.rebuild())
        self.currentRowChanged.connect(self._on_row_changed)
        self.rebuild()

    def rebuild(self) -> None:
        patient = self.vm.current_patient
        self._patient = patient_key(patient) if patient else None
        self.blockSignals(True)
        self.clear()
        for group in self.vm.current_groups:
            item = QListWidgetItem(self.vm.image_label(group.refs[0]).split(" [")[0])
            self.addItem(item)
        self._refresh_items()
        self.setCurrentRow(self.vm.group_index)
        self.blockSignals(False)

    def _refresh_items(self) -> None:
        pixels = self.vm.pixels(self._patient) if self._patient else None
        for row, group in enumerate(self.vm.current_groups):
            item = self.item(row)
            if item is None:
                return
            thumb = pixels.thumbnails.get(group.key) if pixels else None
            if thumb is not None and item.data(IMAGE_ROLE) is None:
                first = pixels.images.get(group.refs[0].key)
                if self.vm.deidentified and first is not None:
                    thumb = deidentified_thumbnail(thumb, first)
                item.setData(IMAGE_ROLE, to_qimage(thumb))
            if self.show_predictions:
                text, colour = prediction_text(self.vm, group)
            else:
                text, colour = "", theme.MUTED
            unreadable = pixels is not None and all(r.key in pixels.unreadable for r in group.refs)
            if unreadable:
                text, colour = "unreadable", theme.FAILED_COLOUR
            item.setData(PRED_ROLE, text)
            item.setData(COLOUR_ROLE, colour)
            detail = f"cine · {group.n_frames} frames" if group.is_cine else ""
            check = self.vm.group_check(group) if self.show_predictions else None
            outside = check is not None and self.vm.group_probabilities(group) is None
            if outside:  # say why under the grey badge; the whole sentence in the tooltip
                detail = REASONS.get(check.reason, check.reason)
            item.setData(DETAIL_ROLE, detail)
            item.setToolTip(outside_sentence(check) if outside else "")

    def set_show_predictions(self, on: bool) -> None:
        if on != self.show_predictions:
            self.show_predictions = on
            self.rebuild()

    def prediction_label(self, row: int) -> str:
        return self.item(row).data(PRED_ROLE)

    def label_lines(self, row: int) -> ThumbLines:
        """The lines painted beside thumbnail ``row`` at the strip's current width."""
        item = self.item(row)
        return thumb_lines(
            self.visualItemRect(item),
            self.font(),
            item.text(),
            item.data(PRED_ROLE) or "",
            item.data(DETAIL_ROLE) or "",
        )

    def _on_current_changed(self) -> None:
        patient = self.vm.current_patient
        key = patient_key(patient) if patient else None
        if key != self._patient:
            self.rebuild()
        elif self.currentRow() != self.vm.group_index:
            self.blockSignals(True)
            self.setCurrentRow(self.vm.group_index)
            self.blockSignals(False)

    def _on_patient_data(self, key: str) -> None:
        if key == self._patient:
            self._refresh_items()
            self.viewport().update()

    def _on_row_changed(self, row: int) -> None:
        if row >= 0:
            self.vm.select_group(row)
