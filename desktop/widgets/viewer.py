"""The main image viewer: paints the current image (and its heatmap) with the ViewerState's
zoom, pan, rotation, flips and grey-level window. Mouse: left-drag pans, right-drag adjusts
brightness (vertical) and contrast (horizontal), wheel zooms, double-click fits.

The widget keeps two cached QImages (image after window/mask, heatmap layer) and rebuilds
them only when their inputs change; a paint only draws them with a transform.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.records import Box, LoadedImage

from ..rendering import (
    HEATMAP_TRANSPARENT_BELOW,
    apply_brightness_contrast,
    heatmap_layer,
    legend_pixels,
    to_qimage,
)
from ..text_masking import text_masking
from ..viewmodels.viewer import ViewerState

_TEXT = QColor("#e8eaed")
_SHADOW = QColor(0, 0, 0, 200)


#: What the viewer says while OCR looks for burned-in text (de-identified mode).
FINDING_TEXT = "De-identified mode: finding burned-in text…"


class ImageViewer(QWidget):
    resized = Signal()

    def __init__(self, state: ViewerState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("imageViewer")
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: LoadedImage | None = None
        self._deidentified = False
        self._base: QImage | None = None
        self._base_key: tuple | None = None
        self._heat: QImage | None = None
        self._heat_origin = QPointF(0, 0)
        self._heat_source: tuple | None = None  # (cam id, box) the cached layer was made from
        self._legend = to_qimage(legend_pixels())
        self._corners: dict[str, list[str]] = {}
        self._placeholder = "Open a study: File > Open folder (Ctrl+O), or drop files here"
        self._drag_start: QPoint | None = None
        self._drag_button = Qt.MouseButton.NoButton
        self.measure_tool = None  # a widgets.measure_tool.MeasureTool, when measuring is offered
        self._tool_owns_mouse = False
        self.deid_note: str | None = None  # de-identified mode: OCR pending or unavailable
        text_masking().ocr_done.connect(self._ocr_done)
        state.changed.connect(self.update)
        state.heatmap_changed.connect(self.update)

    # ----- inputs ----------------------------------------------------------------------------
    def set_image(self, image: LoadedImage | None, deidentified: bool = False) -> None:
        if image is not self._image or deidentified != self._deidentified:
            self._image, self._deidentified = image, deidentified
            self._base_key = None
            self.update()

    def set_heatmap(self, cam: np.ndarray | None, box: Box | None, identity: object = None) -> None:
        """The map to overlay (None: nothing to show yet); rebuilt only when it changes.

        ``identity`` names the map (image, class, method): the same identity means the same
        map, so panning or zooming never recolours it. Without one, the array object is used.
        """
        if cam is None or box is None:
            source = None
        else:
            source = (identity if identity is not None else id(cam), tuple(box), id(self._image))
        if source == self._heat_source:
            return
        self._heat_source, self._heat = source, None
        if source is not None and self._image is not None:
            layer = heatmap_layer(cam, box, self._image.pixels.shape[:2])
            if layer is not None:
                rgba, (x, y) = layer
                self._heat, self._heat_origin = to_qimage(rgba), QPointF(x, y)
        self.update()

    @property
    def heatmap_identity(self) -> object:
        """The identity of the map on show (None: no map), as given to ``set_heatmap``."""
        return self._heat_source[0] if self._heat_source is not None else None

    def set_corner_text(self, corners: dict[str, list[str]]) -> None:
        """Annotations in the corners ("tl", "tr", "bl", "br"), as medical viewers show them."""
        if corners != self._corners:
            self._corners = corners
            self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    @property
    def heatmap_visible(self) -> bool:
        return self.state.heatmap_on and self._heat is not None and self._image is not None

    # ----- geometry --------------------------------------------------------------------------
    def _image_size(self) -> QSize | None:
        if self._image is None:
            return None
        h, w = self._image.pixels.shape[:2]
        return QSize(w, h)

    def pixel_aspect(self) -> float:
        """Height of an image pixel relative to its width on screen (DICOM Pixel Aspect Ratio
        or Pixel Spacing; 1 = square)."""
        cal = self._image.calibration if self._image is not None else None
        return cal.display_aspect() if cal is not None else 1.0

    def fit_scale(self) -> float:
        size = self._image_size()
        if size is None:
            return 1.0
        w, h = size.width(), size.height() * self.pixel_aspect()
        if self.state.geometry.quarter_turns % 2:
            w, h = h, w
        margin = 8
        return max(1e-3, min((self.width() - margin) / w, (self.height() - margin) / h))

    def scale(self) -> float:
        zoom = self.state.geometry.zoom
        return self.fit_scale() if zoom is None else zoom

    def image_transform(self) -> QTransform:
        """Image pixels -> widget pixels. Flips act in screen space (after the rotation)."""
        g, size = self.state.geometry, self._image_size()
        t = QTransform()
        if size is None:
            return t
        t.translate(self.width() / 2 + g.pan_x, self.height() / 2 + g.pan_y)
        t.scale(-1 if g.flip_h else 1, -1 if g.flip_v else 1)
        t.rotate(90 * g.quarter_turns)
        s = self.scale()
        t.scale(s, s * self.pixel_aspect())  # non-square pixels are shown stretched
        t.translate(-size.width() / 2, -size.height() / 2)
        return t

    # ----- painting --------------------------------------------------------------------------
    def _base_image(self) -> QImage | None:
        if self._image is None:
            return None
        st = self.state
        key = (id(self._image), st.brightness, st.contrast, st.invert, self._deidentified)
        if key != self._base_key:
            pixels = self._image.pixels
            if self._deidentified:  # OCR on a worker; nothing of the image until it is done
                masked = text_masking().masked_or_request(pixels, self._image.region)
                self.deid_note = FINDING_TEXT if masked is None else masked.warning
                pixels = np.zeros_like(pixels) if masked is None else masked.pixels
            self._base = to_qimage(
                apply_brightness_contrast(pixels, st.brightness, st.contrast, st.invert)
            )
            self._base_key = None if self.deid_note == FINDING_TEXT else key
        return self._base

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        base = self._base_image()
        if base is None:
            self._paint_placeholder(p)
            p.end()
            return
        p.save()
        p.setTransform(self.image_transform())
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 3.0)
        p.drawImage(QPointF(0, 0), base)
        if self.heatmap_visible:
            p.setOpacity(self.state.opacity)
            p.drawImage(self._heat_origin, self._heat)
        p.restore()
        if self.measure_tool is not None:
            self.measure_tool.paint(p, self.image_transform())
        self._paint_corners(p)
        if self._deidentified and self.deid_note:
            self._paint_deid_note(p)
        if self.heatmap_visible:
            self._paint_legend(p)
        p.end()

    def _ocr_done(self) -> None:
        self._base_key = None
        self.update()

    def _paint_deid_note(self, p: QPainter) -> None:
        """Why the image is black (OCR running) or what is not masked (no Tesseract)."""
        p.save()
        p.setFont(QFont(self.font().family(), 10, QFont.Weight.Bold))
        box = QRectF(12, self.height() - 64, self.width() - 24, 52)
        p.fillRect(box, QColor(0, 0, 0, 190))
        p.setPen(QColor("#ffb347") if self.deid_note == FINDING_TEXT else QColor("#ff5a5a"))
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        p.drawText(box.adjusted(6, 2, -6, -2), flags, self.deid_note)
        p.restore()

    def _paint_placeholder(self, p: QPainter) -> None:
        p.setPen(QColor("#8a9099"))
        p.setFont(QFont(self.font().family(), 11))
        p.drawText(
            self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder
        )

    def _paint_text(self, p: QPainter, x: float, y: float, text: str) -> None:
        p.setPen(_SHADOW)
        p.drawText(QPointF(x + 1, y + 1), text)
        p.setPen(_TEXT)
        p.drawText(QPointF(x, y), text)

    def _paint_corners(self, p: QPainter) -> None:
        font = QFont(self.font().family(), 10)
        p.setFont(font)
        fm = p.fontMetrics()
        line, pad = fm.height(), 10
        legend_room = 48 if self.heatmap_visible else 0
        for corner, lines in self._corners.items():
            for i, text in enumerate(lines):
                right = corner.endswith("r")
                x = self.width() - pad - fm.horizontalAdvance(text) if right else pad
                if corner.startswith("t"):
                    y = pad + fm.ascent() + i * line
                else:
                    y = self.height() - pad - (len(lines) - 1 - i) * line - fm.descent()
                    y -= legend_room if right else 0
                self._paint_text(p, x, y, text)

    def _paint_legend(self, p: QPainter) -> None:
        """The colour scale: the bar as the overlay draws it (over a checkerboard, so its
        transparent low end shows), drawn at the overlay's opacity, with its ends named."""
        w, h, pad = self._legend.width(), self._legend.height(), 10
        x, y = self.width() - pad - w, self.height() - pad - h - 14
        cell = h // 2 or 1
        for i in range(0, w, cell):
            for j in range(0, h, cell):
                shade = QColor("#6b6f76") if (i // cell + j // cell) % 2 else QColor("#2b2e33")
                p.fillRect(QRectF(x + i, y + j, min(cell, w - i), min(cell, h - j)), shade)
        p.save()
        p.setOpacity(self.state.opacity)
        p.drawImage(QPointF(x, y), self._legend)
        p.restore()
        p.setPen(QColor("#5a5f66"))
        p.drawRect(QRectF(x - 0.5, y - 0.5, w + 1, h + 1))
        clear = x + w * HEATMAP_TRANSPARENT_BELOW
        p.setPen(QColor("#e8eaed"))
        p.drawLine(QPointF(clear, y + h), QPointF(clear, y + h + 3))
        p.setFont(QFont(self.font().family(), 8))
        self._paint_text(p, x, y + h + 12, "low")
        hi = "high"
        self._paint_text(p, x + w - p.fontMetrics().horizontalAdvance(hi), y + h + 12, hi)
        mid = "model attention"
        self._paint_text(p, x + (w - p.fontMetrics().horizontalAdvance(mid)) / 2, y + h + 12, mid)
        note = f"clear below {HEATMAP_TRANSPARENT_BELOW:.0%} · opacity {self.state.opacity:.0%}"
        self._paint_text(p, x + w - p.fontMetrics().horizontalAdvance(note), y - 4, note)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    # ----- mouse -----------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        tool = self.measure_tool
        left = event.button() == Qt.MouseButton.LeftButton
        if left and tool is not None and tool.press(self.image_transform(), event.position()):
            self._tool_owns_mouse = True
            return
        self._drag_start = event.position().toPoint()
        self._drag_button = event.button()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._tool_owns_mouse:
            self.measure_tool.move(self.image_transform(), event.position())
            self.update()
            return
        if self._drag_start is None:
            return
        pos = event.position().toPoint()
        delta = pos - self._drag_start
        self._drag_start = pos
        if self._drag_button == Qt.MouseButton.LeftButton:
            self.state.pan_by(delta.x(), delta.y())
        elif self._drag_button == Qt.MouseButton.RightButton:
            self.state.set_contrast(self.state.contrast + delta.x())
            self.state.set_brightness(self.state.brightness - delta.y())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._tool_owns_mouse:
            self._tool_owns_mouse = False
            self.measure_tool.release(self.image_transform(), event.position())
            self.update()
            return
        self._drag_start = None
        self._drag_button = Qt.MouseButton.NoButton

    def mouseDoubleClickEvent(self, _event: QMouseEvent) -> None:
        if self.measure_tool is not None and self.measure_tool.busy:
            return
        self.state.fit()

    def keyPressEvent(self, event) -> None:
        delete = event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
        if delete and self.measure_tool is not None and self.measure_tool.delete_selected():
            self.update()
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.state.zoom_by(1.25**steps, self.fit_scale())
