"""Results panel: per-class probability bars and the plane for the current image, and the
patient verdict with the rule that made it, its flags and the images that drove it (click one
to show it). An image the model cannot assess shows why, in grey, and its class output only
after "Show anyway"; a patient without an assessable view is "Not assessable"."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.taxonomy import display_name

from .. import theme
from ..verdict_text import (
    outside_sentence,
    patient_badge,
    patient_figure,
    percent,
    plane_text,
    short_name,
    verdict_details,
)
from ..viewmodels.cohort import CohortViewModel, PatientStatus
from ..viewmodels.groups import patient_key


class ProbabilityBars(QWidget):
    """One horizontal bar per class; the most probable class is highlighted."""

    ROW = 22

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.names: tuple[str, ...] = ()
        self.probs: np.ndarray | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_values(self, names, probs: np.ndarray | None) -> None:
        self.names, self.probs = tuple(names), probs
        self.setFixedHeight(max(1, len(self.names)) * self.ROW + 4)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, max(1, len(self.names)) * self.ROW + 4)

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.92)
        p.setFont(font)
        fm = p.fontMetrics()
        label_w = min(
            int(self.width() * 0.55),
            max((fm.horizontalAdvance(n) for n in self._labels()), default=0) + 8,
        )
        pct_w = fm.horizontalAdvance("> 99.9%") + 6
        top = int(np.argmax(self.probs)) if self.probs is not None else -1
        for i, label in enumerate(self._labels()):
            y = 2 + i * self.ROW
            p.setPen(QColor(theme.TEXT if i == top else theme.MUTED))
            p.drawText(
                QRectF(0, y, label_w, self.ROW),
                Qt.AlignmentFlag.AlignVCenter,
                fm.elidedText(label, Qt.TextElideMode.ElideRight, label_w - 4),
            )
            track = QRectF(label_w, y + 6, self.width() - label_w - pct_w, self.ROW - 12)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#2c3036"))
            p.drawRoundedRect(track, 3, 3)
            if self.probs is None:
                continue
            value = float(self.probs[i])
            colour = theme.verdict_colour(self.names[i]) if i == top else "#5b6573"
            p.setBrush(QColor(colour))
            p.drawRoundedRect(
                QRectF(track.left(), track.top(), max(2.0, track.width() * value), track.height()),
                3,
                3,
            )
            p.setPen(QColor(theme.TEXT if i == top else theme.MUTED))
            p.drawText(
                QRectF(track.right(), y, pct_w, self.ROW),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                percent(value),
            )
        p.end()

    def _labels(self) -> list[str]:
        return [display_name(n) for n in self.names]


def _title(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("sectionTitle")
    return label


class ResultsPanel(QWidget):
    driver_clicked = Signal(str)  # image key

    def __init__(self, vm: CohortViewModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.vm = vm
        self.setObjectName("resultsPanel")
        self.image_name = QLabel()
        self.image_name.setObjectName("muted")
        # A long file name must not widen the panel past its dock (and clip everything else).
        self.image_name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.image_bars = ProbabilityBars()
        self.image_plane = QLabel()
        self.image_plane.setObjectName("muted")
        self.image_note = QLabel()
        self.image_note.setObjectName("muted")
        self.image_note.setWordWrap(True)
        self.show_anyway = QPushButton("Show anyway")
        self.show_anyway.setObjectName("showAnyway")
        self.show_anyway.setToolTip(
            "This image is outside what the model was validated for: its class output is not "
            "a finding. Show it for research purposes."
        )
        self.show_anyway.clicked.connect(self._reveal)
        self.verdict_title = QLabel("—")
        self.verdict_title.setObjectName("verdictTitle")
        # Wrapped, not one line: in the verdict's large font a long class name with its score
        # ("Encephalocele / meningocele  score 0.98") was wider than the dock, so the panel
        # grew past it and every bar's percentage was clipped at the right edge.
        self.verdict_title.setWordWrap(True)
        self.verdict_rule = QLabel()
        self.verdict_rule.setWordWrap(True)
        self.verdict_rule.setObjectName("muted")
        self.patient_bars = ProbabilityBars()
        self.drivers = QListWidget()
        self.drivers.setObjectName("driverList")
        self.drivers.setMaximumHeight(110)
        self.drivers.setWordWrap(True)
        self.drivers.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.drivers.itemActivated.connect(self._on_driver)
        self.drivers.itemClicked.connect(self._on_driver)
        self._layout()
        for signal in (
            vm.current_changed,
            vm.predictions_changed,
            vm.study_changed,
            vm.patient_status_changed,
            vm.deidentified_changed,
        ):
            signal.connect(lambda *_: self.refresh())
        self.refresh()

    def _layout(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(6)
        lay.addWidget(_title("Current image"))
        lay.addWidget(self.image_name)
        lay.addWidget(self.image_bars)
        lay.addWidget(self.image_plane)
        lay.addWidget(self.image_note)
        lay.addWidget(self.show_anyway)
        lay.addSpacing(10)
        lay.addWidget(_title("Patient verdict"))
        lay.addWidget(self.verdict_title)
        lay.addWidget(self.patient_bars)
        lay.addWidget(self.verdict_rule)
        lay.addWidget(_title("Driven by"))
        lay.addWidget(self.drivers)
        lay.addStretch(1)

    def refresh(self) -> None:
        vm = self.vm
        ref, pred = vm.current_ref, vm.current_prediction
        self.image_name.setText(vm.image_label(ref) if ref else "No image")
        self.image_name.setToolTip(self.image_name.text())
        visible = vm.output_visible(ref)
        self.image_bars.set_values(vm.class_names, pred.probs if visible else None)
        self.image_plane.setText(plane_text(pred) if visible else "")
        note = "" if pred is not None else ("Analysing…" if ref is not None else "")
        outside = pred is not None and not pred.assessable
        if outside:
            sentence = outside_sentence(pred.check)
            note = f"Shown on request, not a finding. {sentence}" if visible else sentence
        self.image_note.setText(note)
        self.image_note.setStyleSheet(f"color: {theme.PENDING_COLOUR};" if outside else "")
        self.show_anyway.setVisible(outside and not visible)
        self._refresh_verdict()

    def _reveal(self) -> None:
        if self.vm.current_ref is not None:
            self.vm.reveal(self.vm.current_ref)

    def _refresh_verdict(self) -> None:
        vm, patient = self.vm, self.vm.current_patient
        key = patient_key(patient) if patient else None
        verdict = vm.verdict(key) if key else None
        self.drivers.clear()
        if verdict is None:
            status = vm.status(key) if key else None
            self.verdict_title.setText(
                "No readable images" if status == PatientStatus.FAILED else "Pending…"
            )
            self.verdict_title.setStyleSheet(f"color: {theme.MUTED};")
            self.patient_bars.set_values(vm.class_names, None)
            self.verdict_rule.setText("")
            return
        text, colour = patient_badge(verdict)
        if verdict.assessable:
            text = f"{display_name(verdict.pred)}  {patient_figure(verdict)}"
        self.verdict_title.setText(text)
        self.verdict_title.setStyleSheet(f"color: {colour};")
        self.patient_bars.set_values(vm.class_names, verdict.probs if verdict.assessable else None)
        self.verdict_rule.setText(verdict_details(verdict))
        refs = {r.key: r for r in patient.images}
        for image_key, prob in verdict.drivers:
            ref = refs.get(image_key)
            label = vm.image_label(ref) if ref else image_key
            item = QListWidgetItem(f"{label} — {short_name(verdict.pred)} {percent(prob, 0)}")
            item.setData(Qt.ItemDataRole.UserRole, image_key)
            self.drivers.addItem(item)

    def _on_driver(self, item: QListWidgetItem) -> None:
        self.driver_clicked.emit(item.data(Qt.ItemDataRole.UserRole))
