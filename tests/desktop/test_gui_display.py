"""Display controls of issue 12: window/level presets and reset, cine speed and loop."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QWidget

from desktop.rendering import apply_brightness_contrast
from desktop.viewmodels.viewer import WINDOW_PRESETS, ViewerState, frame_interval_ms
from desktop.widgets.controls import CineBar, DisplayControls
from tests.desktop.test_gui_widgets import loaded_vm  # noqa: F401  (fixture)


@pytest.mark.parametrize("name", list(WINDOW_PRESETS))
def test_a_window_preset_maps_its_range_onto_the_display(name):
    width, level = WINDOW_PRESETS[name]
    st = ViewerState()
    st.apply_window_preset(name)
    assert st.window == (width, level) and st.window_preset == name
    grey = np.arange(256, dtype=np.uint8).reshape(1, 256, 1).repeat(3, axis=2)
    shown = apply_brightness_contrast(grey, st.brightness, st.contrast, st.invert)[0, :, 0]
    lo, hi = int(level - width / 2), int(level + width / 2) - 1
    if lo > 0:
        assert shown[max(lo - 1, 0)] <= 2  # at or below the window's bottom: black
    if hi < 255:
        assert shown[min(hi + 1, 255)] >= 253  # above its top: white
    assert abs(int(shown[level]) - 128) <= 3  # its level: mid-grey


def test_window_bar_applies_presets_shows_custom_and_resets(qtbot):
    st = ViewerState()
    bar = DisplayControls(st)
    qtbot.addWidget(bar)
    assert bar.current_preset == "Full range" and not bar.reset.isEnabled()
    bar.preset.setCurrentIndex(bar.preset.findData("High contrast"))
    assert st.window == WINDOW_PRESETS["High contrast"] and bar.reset.isEnabled()
    st.set_brightness(st.brightness + 7)  # a hand-made window
    assert bar.current_preset is None and bar.preset.currentText() == "Custom"
    st.pan_by(10, 0)
    bar.reset.click()
    assert st.window_is_default and bar.current_preset == "Full range"
    assert st.geometry.pan_x == 10  # the reset is the window's, not the view's


def test_cine_speed_and_loop(qtbot, loaded_vm):  # noqa: F811
    state, parent = ViewerState(), QWidget()
    qtbot.addWidget(parent)
    bar = CineBar(loaded_vm, state, parent)
    parent.show()
    loaded_vm.select_patient(1)  # a 4-frame cine at 20 ms per frame
    bar.speed.setCurrentIndex(bar.speed.findData(0.5))
    assert state.cine_speed == 0.5
    state.set_cine_playing(True)
    assert bar.timer.interval() == 40 and "25 fps" in bar.label.text()
    bar.speed.setCurrentIndex(bar.speed.findData(2.0))
    assert bar.timer.interval() == 10
    assert frame_interval_ms(None, 4.0) == 8  # 30 fps without timing in the file, at 4x
    # Loop off: playback stops on the last frame.
    bar.loop.setChecked(False)
    assert not state.cine_loop
    qtbot.waitUntil(lambda: not state.cine_playing, timeout=3000)
    assert loaded_vm.frame_index == 3 and not bar.timer.isActive()
    # Loop on: it wraps to the first frame and goes on.
    bar.loop.setChecked(True)
    state.set_cine_playing(True)
    qtbot.waitUntil(lambda: loaded_vm.frame_index == 0, timeout=3000)
    assert state.cine_playing
    state.set_cine_playing(False)
