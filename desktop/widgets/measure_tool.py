"""The viewer's measuring tool: draw, move and select calipers and ellipses on the image.

Mouse, with a tool chosen (Measurements panel): press-drag-release draws a distance, or an
ellipse's first axis (its other axis starts at a head's usual proportion; drag its handle).
Without a tool, or with one: dragging a handle moves that point (saved on release); a click
on a measurement selects it; Delete removes the selected one. Everything else (pan, window,
zoom) stays the viewer's. Points live in image pixels, so zoom, pan, rotation and flips
never move a measurement off its anatomy.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF, QTransform

from core.measurements.biometry import ELLIPSE, KINDS
from core.measurements.geometry import ellipse_outline, ellipse_third_point
from core.measurements.measure import Measurement

from ..viewmodels.cohort import CohortViewModel
from ..viewmodels.measurements import MeasurementsViewModel

HANDLE_PX = 9  # how close (screen pixels) a press must be to grab a point
MIN_DRAG_PX = 4  # a shorter drag draws nothing (a click is not a measurement)
_COLOUR = QColor("#ffd54a")
_SELECTED = QColor("#4fc3f7")
_SHADOW = QColor(0, 0, 0, 200)


def _dist(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


class MeasureTool(QObject):
    def __init__(self, vm: CohortViewModel, mvm: MeasurementsViewModel, parent=None):
        super().__init__(parent)
        self.vm, self.mvm = vm, mvm
        self._drawing: list[tuple[float, float]] | None = None  # points of the new one
        self._dragging: tuple[str, int] | None = None  # (measurement id, point index)
        self._press: QPointF | None = None

    # ----- geometry --------------------------------------------------------------------------
    @staticmethod
    def _to_image(transform: QTransform, pos: QPointF) -> tuple[float, float]:
        inverse, ok = transform.inverted()
        p = inverse.map(pos) if ok else pos
        return p.x(), p.y()

    def _hit_handle(self, transform: QTransform, pos: QPointF) -> tuple[str, int] | None:
        best, best_d = None, HANDLE_PX
        for m in self.mvm.measurements(self.vm.current_ref):
            for i, (x, y) in enumerate(m.points):
                d = _dist(transform.map(QPointF(x, y)), pos)
                if d <= best_d:
                    best, best_d = (m.id, i), d
        return best

    # ----- mouse (return True when the event was the tool's) --------------------------------
    @property
    def busy(self) -> bool:
        return self._drawing is not None or self._dragging is not None

    def press(self, transform: QTransform, pos: QPointF) -> bool:
        ref = self.vm.current_ref
        if ref is None or self.vm.current_image is None:
            return False
        hit = self._hit_handle(transform, pos)
        if hit is not None:
            self._dragging = hit
            self.mvm.select(hit[0])
            return True
        if self.mvm.tool is None:
            return False
        p = self._to_image(transform, pos)
        self._drawing, self._press = [p, p], QPointF(pos)
        return True

    def move(self, transform: QTransform, pos: QPointF) -> bool:
        ref = self.vm.current_ref
        if self._dragging is not None and ref is not None:
            mid, index = self._dragging
            m = self.mvm.find(ref, mid)
            if m is not None:
                self.mvm.replace(ref, m.moved(index, self._to_image(transform, pos)), save=False)
            return True
        if self._drawing is not None:
            self._drawing[1] = self._to_image(transform, pos)
            self.mvm.changed.emit(ref.key if ref else "")
            return True
        return False

    def release(self, transform: QTransform, pos: QPointF) -> bool:
        ref = self.vm.current_ref
        if self._dragging is not None:
            mid, _index = self._dragging
            self._dragging = None
            m = self.mvm.find(ref, mid) if ref is not None else None
            if m is not None:
                self.mvm.replace(ref, m)  # saved now
            return True
        if self._drawing is None:
            return False
        points, start = self._drawing, self._press
        self._drawing = self._press = None
        kind = self.mvm.tool
        if ref is None or kind is None or start is None or _dist(start, pos) < MIN_DRAG_PX:
            self.mvm.changed.emit(ref.key if ref else "")
            return True
        if KINDS[kind].tool == ELLIPSE:
            points = [*points, ellipse_third_point(points)]
        self.mvm.add(ref, Measurement(kind, tuple(points)))
        return True

    def cancel(self) -> None:
        self._drawing = self._press = None
        self._dragging = None

    def delete_selected(self) -> bool:
        ref = self.vm.current_ref
        if (
            ref is None
            or self.mvm.selected is None
            or self.mvm.find(ref, self.mvm.selected) is None
        ):
            return False
        self.mvm.delete(ref, self.mvm.selected)
        return True

    # ----- painting --------------------------------------------------------------------------
    def paint(self, p: QPainter, transform: QTransform) -> None:
        ref = self.vm.current_ref
        image = self.vm.current_image
        if ref is None or image is None:
            return
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(p.font())
        font.setPointSizeF(9.5)
        font.setBold(True)
        p.setFont(font)
        for m in self.mvm.measurements(ref):
            result = self.mvm.result(ref, m, image)
            colour = _SELECTED if m.id == self.mvm.selected else _COLOUR
            label = f"{m.kind if m.kind not in ('distance', 'ellipse') else ''} "
            label = (label + (result.value_text() if result else "")).strip()
            self._paint_shape(p, transform, m.points, m.tool, result.scale if result else None,
                              colour, label)  # fmt: skip
        if self._drawing is not None:
            pts = list(self._drawing)
            tool = KINDS[self.mvm.tool].tool if self.mvm.tool else "distance"
            if tool == ELLIPSE:
                pts.append(ellipse_third_point(pts))
            scale = None
            if image.calibration is not None:
                scale = image.calibration.scale_for(pts)
            self._paint_shape(p, transform, tuple(pts), tool, scale, _SELECTED, "")
        p.restore()

    def _paint_shape(self, p, transform, points, tool, scale, colour, label) -> None:
        screen = [transform.map(QPointF(x, y)) for x, y in points]
        shadow, pen = QPen(_SHADOW, 3.0), QPen(colour, 1.5)
        path = QPainterPath()
        if tool == ELLIPSE:
            outline = ellipse_outline(points, scale if scale and scale.calibrated else None, 120)
            poly = QPolygonF([transform.map(QPointF(float(x), float(y))) for x, y in outline])
            path.addPolygon(poly)
            path.closeSubpath()
            axis = QPainterPath(screen[0])
            axis.lineTo(screen[1])
        else:
            path.moveTo(screen[0])
            path.lineTo(screen[1])
            axis = None
        for pen_ in (shadow, pen):
            p.setPen(pen_)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            if axis is not None:
                dashed = QPen(pen_)
                dashed.setStyle(Qt.PenStyle.DashLine)
                p.setPen(dashed)
                p.drawPath(axis)
        for point in screen:  # handles: small crosses, as calipers are drawn on scanners
            for pen_ in (shadow, pen):
                p.setPen(pen_)
                p.drawLine(point + QPointF(-4, 0), point + QPointF(4, 0))
                p.drawLine(point + QPointF(0, -4), point + QPointF(0, 4))
        if label:
            fm = p.fontMetrics()
            w, h = fm.horizontalAdvance(label) + 8, fm.height() + 2
            if tool == ELLIPSE:  # above the ellipse's top, clear of the calipers inside it
                top = min(poly, key=lambda q: q.y())
                rect = QRectF(top.x() - w / 2, top.y() - h - 6, w, h)
            else:  # beside the caliper's second end
                anchor = screen[1]
                rect = QRectF(anchor.x() + 8, anchor.y() - h, w, h)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0, 170))
            p.drawRoundedRect(rect, 3, 3)
            p.setPen(colour)
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
