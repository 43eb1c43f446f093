"""ViewerState: how the current image is shown (zoom, pan, window, orientation, heatmap, cine).

Plain state with rules (limits, reset, defaults); the viewer widget only reads it and paints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal

from core.heatmap_overlay import APP_HEATMAP_METHODS, DEFAULT_OPACITY, FORWARD_CAM

ZOOM_MIN, ZOOM_MAX, ZOOM_STEP = 0.1, 16.0, 1.25
BRIGHTNESS_RANGE = (-255, 255)  # added to pixel values (0-255 scale)
CONTRAST_RANGE = (10, 400)  # percent; 100 = unchanged
DEFAULT_FPS = 30.0
#: Cine playback speeds offered (1 = the file's frame rate).
CINE_SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)

#: Window/level presets on the displayed 0-255 grey levels: name -> (width, level). The
#: grey levels are the scanner's display values (B-mode has no Hounsfield-like units), so the
#: presets stretch the echo range a reader looks at. Widths divide 25600 so that each preset
#: is exactly one brightness/contrast setting (contrast is kept in whole percent).
WINDOW_PRESETS: dict[str, tuple[int, int]] = {
    "Full range": (256, 128),
    "High contrast": (160, 128),
    "Low contrast": (400, 128),
    "Fluid and dark echoes": (128, 64),
    "Bright echoes (bone)": (128, 192),
}


def _clamp(value, lo, hi):
    return max(lo, min(hi, value))


@dataclass(frozen=True)
class Geometry:
    """Zoom (None = fit to window), pan in screen pixels, quarter turns, flips."""

    zoom: float | None = None
    pan_x: float = 0.0
    pan_y: float = 0.0
    quarter_turns: int = 0
    flip_h: bool = False
    flip_v: bool = False


class ViewerState(QObject):
    changed = Signal()
    heatmap_changed = Signal()
    cine_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.geometry = Geometry()
        self.brightness = 0
        self.contrast = 100
        self.invert = False
        self.heatmap_on = False
        self.opacity = DEFAULT_OPACITY
        self.heatmap_class: int | None = None  # None = the image's predicted class
        self.heatmap_method = FORWARD_CAM
        self.cine_playing = False
        self.cine_speed = 1.0
        self.cine_loop = True

    # ----- geometry --------------------------------------------------------------------------
    def _set_geometry(self, **changes) -> None:
        new = replace(self.geometry, **changes)
        if new != self.geometry:
            self.geometry = new
            self.changed.emit()

    def zoom_by(self, factor: float, fit_scale: float = 1.0) -> None:
        """Multiply the zoom; from fit mode, start at the fit scale so the step feels natural."""
        current = self.geometry.zoom if self.geometry.zoom is not None else fit_scale
        self._set_geometry(zoom=_clamp(current * factor, ZOOM_MIN, ZOOM_MAX))

    def zoom_in(self, fit_scale: float = 1.0) -> None:
        self.zoom_by(ZOOM_STEP, fit_scale)

    def zoom_out(self, fit_scale: float = 1.0) -> None:
        self.zoom_by(1 / ZOOM_STEP, fit_scale)

    def fit(self) -> None:
        self._set_geometry(zoom=None, pan_x=0.0, pan_y=0.0)

    def pan_by(self, dx: float, dy: float) -> None:
        g = self.geometry
        self._set_geometry(pan_x=g.pan_x + dx, pan_y=g.pan_y + dy)

    def rotate(self, quarter_turns: int = 1) -> None:
        self._set_geometry(quarter_turns=(self.geometry.quarter_turns + quarter_turns) % 4)

    def flip_horizontal(self) -> None:
        self._set_geometry(flip_h=not self.geometry.flip_h)

    def flip_vertical(self) -> None:
        self._set_geometry(flip_v=not self.geometry.flip_v)

    # ----- grey-level window -----------------------------------------------------------------
    def set_brightness(self, value: int) -> None:
        value = int(_clamp(value, *BRIGHTNESS_RANGE))
        if value != self.brightness:
            self.brightness = value
            self.changed.emit()

    def set_contrast(self, percent: int) -> None:
        percent = int(_clamp(percent, *CONTRAST_RANGE))
        if percent != self.contrast:
            self.contrast = percent
            self.changed.emit()

    def toggle_invert(self) -> None:
        self.invert = not self.invert
        self.changed.emit()

    @property
    def window(self) -> tuple[int, int]:
        """(width, level) on 0-255 grey levels equivalent to the brightness and contrast."""
        c = self.contrast / 100.0
        return int(round(256 / c)), int(round(128 - self.brightness / c))

    def set_window(self, width: float, level: float) -> None:
        """Show grey levels level +/- width / 2 over the full display range."""
        contrast = int(_clamp(round(25600 / max(1.0, float(width))), *CONTRAST_RANGE))
        brightness = int(_clamp(round((128 - float(level)) * contrast / 100), *BRIGHTNESS_RANGE))
        if (brightness, contrast) != (self.brightness, self.contrast):
            self.brightness, self.contrast = brightness, contrast
            self.changed.emit()

    def apply_window_preset(self, name: str) -> None:
        if name not in WINDOW_PRESETS:
            raise ValueError(f"unknown window preset {name!r}")
        self.set_window(*WINDOW_PRESETS[name])

    @property
    def window_preset(self) -> str | None:
        """The preset the window equals (None: a window set by hand)."""
        return next((n for n, wl in WINDOW_PRESETS.items() if self.window == wl), None)

    def reset_window(self) -> None:
        """Back to the file's grey levels: full range, not inverted (zoom and pan stay)."""
        if not self.window_is_default:
            self.brightness, self.contrast, self.invert = 0, 100, False
            self.changed.emit()

    @property
    def window_is_default(self) -> bool:
        return self.brightness == 0 and self.contrast == 100 and not self.invert

    def reset(self) -> None:
        """Space: back to fit, no rotation/flip, default brightness/contrast, no invert."""
        self.geometry = Geometry()
        self.brightness, self.contrast, self.invert = 0, 100, False
        self.changed.emit()

    # ----- heatmap ---------------------------------------------------------------------------
    def set_heatmap_on(self, on: bool) -> None:
        if on != self.heatmap_on:
            self.heatmap_on = on
            self.heatmap_changed.emit()

    def toggle_heatmap(self) -> None:
        self.set_heatmap_on(not self.heatmap_on)

    def set_opacity(self, opacity: float) -> None:
        opacity = float(_clamp(opacity, 0.0, 1.0))
        if abs(opacity - self.opacity) > 1e-6:
            self.opacity = opacity
            self.heatmap_changed.emit()

    def set_heatmap_class(self, index: int | None) -> None:
        if index != self.heatmap_class:
            self.heatmap_class = index
            self.heatmap_changed.emit()

    def set_heatmap_method(self, method: str) -> None:
        if method not in APP_HEATMAP_METHODS:
            raise ValueError(f"unknown heatmap method {method!r}")
        if method != self.heatmap_method:
            self.heatmap_method = method
            self.heatmap_changed.emit()

    def heatmap_class_for(self, predicted_index: int | None) -> int | None:
        """The class whose map is shown: the user's choice, else the image's predicted class."""
        return self.heatmap_class if self.heatmap_class is not None else predicted_index

    # ----- cine ------------------------------------------------------------------------------
    def set_cine_playing(self, playing: bool) -> None:
        if playing != self.cine_playing:
            self.cine_playing = playing
            self.cine_changed.emit()

    def toggle_cine(self) -> None:
        self.set_cine_playing(not self.cine_playing)

    def set_cine_speed(self, speed: float) -> None:
        if speed not in CINE_SPEEDS:
            raise ValueError(f"cine speed {speed} is not one of {CINE_SPEEDS}")
        if speed != self.cine_speed:
            self.cine_speed = speed
            self.cine_changed.emit()

    def set_cine_loop(self, loop: bool) -> None:
        if loop != self.cine_loop:
            self.cine_loop = loop
            self.cine_changed.emit()


def frame_interval_ms(frame_time_ms: float | None, speed: float = 1.0) -> int:
    """Cine timer interval: the file's frame time (DICOM FrameTime) when sane, else 30 fps,
    divided by the playback ``speed``."""
    if frame_time_ms is not None and 5.0 <= frame_time_ms <= 2000.0:
        base = frame_time_ms
    else:
        base = 1000.0 / DEFAULT_FPS
    return max(1, int(round(base / speed)))
