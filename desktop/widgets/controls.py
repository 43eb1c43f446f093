"""Control bars under the viewer: heatmap (toggle, class, method, opacity) and cine playback."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

from core.heatmap_overlay import APP_HEATMAP_METHODS
from core.taxonomy import display_name

from ..viewmodels.cohort import CohortViewModel
from ..viewmodels.viewer import (
    CINE_SPEEDS,
    WINDOW_PRESETS,
    ViewerState,
    frame_interval_ms,
)

CUSTOM_WINDOW = "Custom"


class ElidedLabel(QLabel):
    """One line that takes only the room it is given: elided at the right, never wider than its
    layout lets it be (a QLabel's minimum width is its text's; this one's is zero)."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(0, super().sizeHint().height())

    def shown_text(self) -> str:
        """What is painted: the text elided to the label's width."""
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, max(0, self.contentsRect().width())
        )

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        p.setFont(self.font())
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        p.drawText(self.contentsRect(), align, self.shown_text())
        p.end()


class HeatmapControls(QWidget):
    def __init__(self, vm: CohortViewModel, state: ViewerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.vm, self.state = vm, state
        self.toggle = QToolButton()
        self.toggle.setText("Heatmap  (H)")
        self.toggle.setCheckable(True)
        self.toggle.setObjectName("heatmapToggle")
        self.class_box = QComboBox()
        self.class_box.setObjectName("heatmapClass")
        self.class_box.setMinimumContentsLength(18)
        self.method_box = QComboBox()
        self.method_box.setObjectName("heatmapMethod")
        for method, label in APP_HEATMAP_METHODS.items():
            self.method_box.addItem(label, method)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("heatmapOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setFixedWidth(120)
        # A note ("computing Grad-CAM++…") must never widen the bar, hence the window.
        self.note = ElidedLabel()
        self.note.setObjectName("muted")
        self._layout()
        self.toggle.toggled.connect(state.set_heatmap_on)
        self.opacity.valueChanged.connect(lambda v: state.set_opacity(v / 100.0))
        self.class_box.currentIndexChanged.connect(self._on_class)
        self.method_box.currentIndexChanged.connect(
            lambda i: state.set_heatmap_method(self.method_box.itemData(i))
        )
        state.heatmap_changed.connect(self.sync)
        vm.study_changed.connect(self.rebuild_classes)
        self.rebuild_classes()
        self.sync()

    def _layout(self) -> None:
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.toggle)
        lay.addWidget(QLabel("Class"))
        lay.addWidget(self.class_box)
        lay.addWidget(QLabel("Method"))
        lay.addWidget(self.method_box)
        lay.addWidget(QLabel("Opacity"))
        lay.addWidget(self.opacity)
        lay.addWidget(self.note, 1)

    def rebuild_classes(self) -> None:
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItem("Predicted class", None)
        for i, name in enumerate(self.vm.class_names):
            self.class_box.addItem(display_name(name), i)
        self.class_box.blockSignals(False)
        self.sync()

    def _on_class(self, index: int) -> None:
        self.state.set_heatmap_class(self.class_box.itemData(index))

    def sync(self) -> None:
        """Show the state (it may change by keyboard shortcut or settings)."""
        st = self.state
        for widget, update in (
            (self.toggle, lambda: self.toggle.setChecked(st.heatmap_on)),
            (self.opacity, lambda: self.opacity.setValue(round(st.opacity * 100))),
            (
                self.class_box,
                lambda: self.class_box.setCurrentIndex(
                    max(0, self.class_box.findData(st.heatmap_class))
                ),
            ),
            (
                self.method_box,
                lambda: self.method_box.setCurrentIndex(
                    self.method_box.findData(st.heatmap_method)
                ),
            ),
        ):
            widget.blockSignals(True)
            update()
            widget.blockSignals(False)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setToolTip(text)


class DisplayControls(QWidget):
    """Window/level presets on the displayed grey levels, and a reset (right-drag, B and K
    change the window by hand; the corner shows W and L)."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("displayBar")
        self.preset = QComboBox()
        self.preset.setObjectName("windowPreset")
        for name, (width, level) in WINDOW_PRESETS.items():
            self.preset.addItem(f"{name}  (W {width} L {level})", name)
        self.preset.addItem(CUSTOM_WINDOW, None)
        self.preset.setToolTip(
            "Window/level on the displayed grey levels (0-255): W = range shown, L = its "
            "centre. Right-drag on the image, B / K, or a preset."
        )
        self.reset = QToolButton()
        self.reset.setObjectName("resetWindow")
        self.reset.setText("Reset window")
        self.reset.setToolTip("Back to the image's own grey levels (zoom and pan stay)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 2, 8, 2)
        lay.addWidget(QLabel("Window"))
        lay.addWidget(self.preset)
        lay.addWidget(self.reset)
        lay.addStretch(1)
        self.preset.currentIndexChanged.connect(self._on_preset)
        self.reset.clicked.connect(state.reset_window)
        state.changed.connect(self.sync)
        self.sync()

    def _on_preset(self, index: int) -> None:
        name = self.preset.itemData(index)
        if name is not None:
            self.state.apply_window_preset(name)
            if self.state.invert:
                self.state.toggle_invert()

    def sync(self) -> None:
        name = self.state.window_preset if not self.state.invert else None
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(self.preset.findData(name) if name else self.preset.count() - 1)
        self.preset.blockSignals(False)
        self.reset.setEnabled(not self.state.window_is_default)

    @property
    def current_preset(self) -> str | None:
        return self.preset.currentData()


class CineBar(QWidget):
    """Play/pause and scrub a multi-frame file at its frame rate (else 30 fps)."""

    def __init__(self, vm: CohortViewModel, state: ViewerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.vm, self.state = vm, state
        self.play = QToolButton()
        self.play.setObjectName("cinePlay")
        self.play.setCheckable(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("cineSlider")
        self.label = QLabel()
        self.label.setObjectName("muted")
        self.speed = QComboBox()
        self.speed.setObjectName("cineSpeed")
        for speed in CINE_SPEEDS:
            self.speed.addItem(f"{speed:g}×", speed)
        self.speed.setToolTip("Playback speed (1× = the file's frame rate)")
        self.loop = QToolButton()
        self.loop.setObjectName("cineLoop")
        self.loop.setText("Loop")
        self.loop.setCheckable(True)
        self.loop.setToolTip("Loop: start again after the last frame (off: stop there)")
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 2, 8, 2)
        lay.addWidget(self.play)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        lay.addWidget(self.speed)
        lay.addWidget(self.loop)
        self.play.toggled.connect(state.set_cine_playing)
        self.speed.currentIndexChanged.connect(
            lambda i: state.set_cine_speed(self.speed.itemData(i))
        )
        self.loop.toggled.connect(state.set_cine_loop)
        self.slider.valueChanged.connect(vm.select_frame)
        state.cine_changed.connect(self.sync)
        vm.current_changed.connect(self.sync)
        vm.pixels_changed.connect(lambda _key: self.sync())
        self.sync()

    def _tick(self) -> None:
        """One frame on; without loop, playback stops on the last frame."""
        group = self.vm.current_group
        last = group is not None and self.vm.frame_index >= group.n_frames - 1
        if last and not self.state.cine_loop:
            self.state.set_cine_playing(False)
            return
        self.vm.advance_frame()

    def sync(self) -> None:
        group = self.vm.current_group
        is_cine = group is not None and group.is_cine
        self.setVisible(is_cine)
        if not is_cine:
            self.timer.stop()
            if self.state.cine_playing:
                self.state.set_cine_playing(False)
            return
        image = self.vm.current_image
        frame_time = image.frame_time_ms if image is not None else None
        interval = frame_interval_ms(frame_time, self.state.cine_speed)
        for widget in (self.slider, self.play, self.speed, self.loop):
            widget.blockSignals(True)
        self.slider.setRange(0, group.n_frames - 1)
        self.slider.setValue(self.vm.frame_index)
        self.play.setChecked(self.state.cine_playing)
        self.speed.setCurrentIndex(self.speed.findData(self.state.cine_speed))
        self.loop.setChecked(self.state.cine_loop)
        self.play.setText("❚❚  Pause (C)" if self.state.cine_playing else "▶  Play (C)")
        for widget in (self.slider, self.play, self.speed, self.loop):
            widget.blockSignals(False)
        self.label.setText(
            f"Frame {self.vm.frame_index + 1} / {group.n_frames}  ·  {1000 / interval:.0f} fps"
        )
        if self.state.cine_playing:
            if not self.timer.isActive() or self.timer.interval() != interval:
                self.timer.start(interval)
        else:
            self.timer.stop()
