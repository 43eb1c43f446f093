"""Decision panel of the reader-study reading window: the class (radio buttons), the confidence
that the case is abnormal (slider + spin box, 0-100, unset until the reader gives it) and Submit
(also Ctrl+Enter, a window action). Thin: the rules are DecisionState's."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.taxonomy import display_name

from .. import theme
from ..viewmodels.decision import DecisionState

RECORDING = "Recording…"
UNSET = -1  # the spin box's value while no rating is given (shown as "—")
# The dark theme's radio indicators are hard to see; an unset rating shows a grey handle.
_STYLE = f"""
QRadioButton {{ padding: 2px 0; }}
QRadioButton::indicator {{ width: 13px; height: 13px; border-radius: 7px;
    border: 1px solid {theme.MUTED}; background: {theme.BASE}; }}
QRadioButton::indicator:checked {{ background: {theme.ACCENT}; border-color: {theme.ACCENT}; }}
QSlider[unset="true"]::handle:horizontal {{ background: #5b6573; }}
QSlider[unset="true"]::sub-page:horizontal {{ background: #3a3f47; }}
"""


class RatingSpinBox(QSpinBox):
    """0-100, or unset (UNSET, shown as "—"). Typing a digit while unset replaces the dash:
    otherwise the typed text would read "—3", which a spin box rejects without a word."""

    def keyPressEvent(self, event) -> None:
        if self.value() == UNSET and event.text().isdigit():
            self.lineEdit().clear()
        super().keyPressEvent(event)


def _title(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("sectionTitle")
    return label


class DecisionPanel(QWidget):
    submit_requested = Signal()

    def __init__(self, decision: DecisionState, parent: QWidget | None = None):
        super().__init__(parent)
        self.decision = decision
        self.setObjectName("decisionPanel")
        self.setStyleSheet(_STYLE)
        self.class_group = QButtonGroup(self)
        self.class_group.setExclusive(True)
        self.class_box = QVBoxLayout()
        self.class_box.setSpacing(2)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("ratingSlider")
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(10)
        self.spin = RatingSpinBox()
        self.spin.setObjectName("ratingSpin")
        self.spin.setRange(UNSET, 100)
        self.spin.setSpecialValueText("—")  # shown at UNSET: no rating given yet
        self.spin.setFixedWidth(64)
        self.submit = QPushButton("Submit and next  (Ctrl+Enter)")
        self.submit.setObjectName("submitButton")
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("submitError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.FAILED_COLOUR};")
        self._layout()
        self.class_group.buttonToggled.connect(self._on_class_toggled)
        # Pressing the handle counts as giving the rating, so 50 can be chosen without moving.
        self.slider.sliderPressed.connect(lambda: decision.set_rating(self.slider.value()))
        self.slider.valueChanged.connect(decision.set_rating)
        self.spin.valueChanged.connect(lambda v: decision.set_rating(None if v == UNSET else v))
        self.submit.clicked.connect(self.submit_requested)
        decision.changed.connect(self.sync)
        self.sync()

    def _layout(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(6)
        lay.addWidget(_title("Your decision"))
        lay.addWidget(QLabel("Class"))
        lay.addLayout(self.class_box)
        lay.addSpacing(6)
        lay.addWidget(QLabel("Confidence that the case is abnormal"))
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        lay.addLayout(row)
        ends = QHBoxLayout()
        for text, align in (
            ("0 surely normal", Qt.AlignmentFlag.AlignLeft),
            ("100 surely abnormal", Qt.AlignmentFlag.AlignRight),
        ):
            label = QLabel(text)
            label.setObjectName("muted")
            label.setAlignment(align)
            ends.addWidget(label)
        ends.addSpacing(self.spin.width())
        lay.addLayout(ends)
        lay.addSpacing(6)
        lay.addWidget(self.submit)
        lay.addWidget(self.hint)
        lay.addWidget(self.error)

    def _reserve_hint_height(self) -> None:
        """The hint keeps the height of its longest text at this width: a hint that wraps onto
        a second line (or goes away) must not move the panel's buttons and slider."""
        width = self.hint.width() if self.hint.width() > 0 else self.width() - 24
        fm = self.hint.fontMetrics()
        texts = (RECORDING, *self.decision.hints(), "x")
        flags = int(Qt.TextFlag.TextWordWrap)
        height = max(fm.boundingRect(0, 0, max(1, width), 10_000, flags, t).height() for t in texts)
        if self.hint.minimumHeight() != height:
            self.hint.setMinimumHeight(height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reserve_hint_height()

    def _rebuild_classes(self) -> None:
        for button in self.class_group.buttons():
            self.class_group.removeButton(button)
            self.class_box.removeWidget(button)
            button.deleteLater()
        for name in self.decision.class_names:
            button = QRadioButton(display_name(name))
            button.setObjectName(f"class_{name}")
            button.setProperty("class_name", name)
            self.class_group.addButton(button)
            self.class_box.addWidget(button)

    def _on_class_toggled(self, button: QRadioButton, checked: bool) -> None:
        if checked:
            self.decision.set_class(button.property("class_name"))

    def class_button(self, name: str) -> QRadioButton | None:
        return next(
            (b for b in self.class_group.buttons() if b.property("class_name") == name), None
        )

    def sync(self) -> None:
        """Show the decision state (a new case resets it; Submit follows its rules)."""
        d = self.decision
        names = tuple(b.property("class_name") for b in self.class_group.buttons())
        if names != d.class_names:
            self._rebuild_classes()
        for button in self.class_group.buttons():
            wanted = button.property("class_name") == d.class_call
            if button.isChecked() != wanted:
                # An exclusive group cannot uncheck its last button: lift it for the reset.
                self.class_group.setExclusive(False)
                button.setChecked(wanted)
                self.class_group.setExclusive(True)
        for widget, value in ((self.spin, UNSET if d.rating is None else d.rating),
                              (self.slider, 50 if d.rating is None else d.rating)):  # fmt: skip
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        if self.slider.property("unset") != (d.rating is None):
            self.slider.setProperty("unset", d.rating is None)
            self.slider.style().unpolish(self.slider)
            self.slider.style().polish(self.slider)
        self.submit.setEnabled(d.can_submit)
        self.hint.setText(RECORDING if d.busy else d.missing())
        self._reserve_hint_height()
        self.error.setText(d.error)
        self.error.setVisible(bool(d.error))
