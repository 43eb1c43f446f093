"""Painting the per-patient PDF report with QPdfWriter + QPainter (print colours: dark on white).

The same painting code renders a page preview into a QImage (``render_report_preview``), which
is how the report's layout is checked by eye and in the tests (no PDF renderer is needed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter

import core
from core.taxonomy import display_name

from .deid import PHI_MARK
from .rendering import HEATMAP_TRANSPARENT_BELOW, legend_pixels, to_qimage
from .report_data import ReportData, ReportImage, verdict_line
from .verdict_text import percent

DPI = 150
_INK, _MUTED, _WARN = QColor("#111111"), QColor("#555555"), QColor("#9a3b00")


class _LastPage(Exception):
    """Raised by a preview's page break: only the first page is rendered."""


def _a4_layout() -> QPageLayout:
    return QPageLayout(
        QPageSize(QPageSize.PageSizeId.A4),
        QPageLayout.Orientation.Portrait,
        QMarginsF(15, 15, 15, 15),
        QPageLayout.Unit.Millimeter,
    )


class _Page:
    """A cursor over the report's pages: text lines, page breaks, footers."""

    def __init__(
        self, painter: QPainter, data: ReportData, size: QRectF, next_page: Callable[[], None]
    ):
        self.p, self.data, self.rect, self._next_page = painter, data, size, next_page
        self.footer_h = 60
        self.y = 0.0
        self.number = 1

    @property
    def bottom(self) -> float:
        return self.rect.height() - self.footer_h

    def font(self, size: float, bold: bool = False) -> None:
        f = QFont("DejaVu Sans", 1)
        f.setPointSizeF(size)
        f.setBold(bold)
        self.p.setFont(f)

    def text(
        self,
        text: str,
        size: float = 10,
        bold: bool = False,
        colour: QColor = _INK,
        indent: float = 0,
    ) -> None:
        self.font(size, bold)
        self.p.setPen(colour)
        fm = self.p.fontMetrics()
        box = QRectF(indent, self.y, self.rect.width() - indent, 10_000)
        bounds = fm.boundingRect(box.toRect(), Qt.TextFlag.TextWordWrap, text)
        self.ensure(bounds.height() + 4)
        self.p.drawText(
            QRectF(indent, self.y, self.rect.width() - indent, bounds.height() + 4),
            Qt.TextFlag.TextWordWrap,
            text,
        )
        self.y += bounds.height() + 6

    def ensure(self, height: float) -> None:
        if self.y + height > self.bottom:
            self.new_page()

    def new_page(self) -> None:
        self.footer()
        self._next_page()
        self.number += 1
        self.y = 0.0

    def footer(self) -> None:
        self.font(7.5)
        self.p.setPen(_WARN)
        y = self.rect.height() - self.footer_h + 20
        self.p.drawLine(QPointF(0, y - 8), QPointF(self.rect.width(), y - 8))
        self.p.drawText(
            QRectF(0, y, self.rect.width(), 30),
            Qt.AlignmentFlag.AlignLeft,
            f"{core.RESEARCH_USE_ONLY}  ·  CNSight {core.__version__}",
        )
        self.p.setPen(_MUTED)
        self.p.drawText(
            QRectF(0, y, self.rect.width(), 30),
            Qt.AlignmentFlag.AlignRight,
            f"{self.data.patient_label}  ·  page {self.number}",
        )


def _header(page: _Page, data: ReportData) -> None:
    page.text("CNSight — patient report", 17, bold=True)
    page.text(core.RESEARCH_USE_ONLY, 11, bold=True, colour=_WARN)
    page.y += 6
    page.text(
        f"Patient: {data.patient_label}"
        + ("   (de-identified)" if data.deidentified else PHI_MARK),
        11,
        bold=True,
    )
    for fact, value in data.exam:
        page.text(f"{fact}: {value}", 9.5)
    page.text(f"Generated {data.created}  ·  CNSight {core.__version__}", 9, colour=_MUTED)
    ran_on = f"device {data.device}" + (f", backend {data.backend}" if data.backend else "")
    page.text(f"Model: {data.model_name}  ·  {ran_on}", 9, colour=_MUTED)
    page.text(f"Weights sha256: {data.weights_sha256}", 8, colour=_MUTED)
    page.y += 8


def _colour_scale(page: _Page, data: ReportData) -> None:
    """The heatmap's colour bar as the pictures draw it (over a checkerboard: its transparent
    low end shows), with its ends, the clear threshold and the opacity."""
    width, height = page.rect.width() * 0.34, 16.0
    page.ensure(height + 80)
    top = page.y
    legend = legend_pixels(256, 8)
    cell = height / 2
    for i in range(int(width // cell) + 1):
        for j in range(2):
            shade = QColor("#c9c9c9") if (i + j) % 2 else QColor("#ffffff")
            page.p.fillRect(
                QRectF(i * cell, top + j * cell, min(cell, width - i * cell), cell), shade
            )
    page.p.save()
    page.p.setOpacity(data.opacity if data.opacity is not None else 1.0)
    page.p.drawImage(QRectF(0, top, width, height), to_qimage(legend))
    page.p.restore()
    page.p.setPen(_MUTED)
    page.p.drawRect(QRectF(0, top, width, height))
    page.font(7.5)
    page.p.drawText(QPointF(0, top + height + 12), "low")
    page.p.drawText(
        QPointF(width - page.p.fontMetrics().horizontalAdvance("high"), top + height + 12), "high"
    )
    opacity = f", drawn at {data.opacity:.0%} opacity" if data.opacity is not None else ""
    page.font(8.5)
    page.p.setPen(_INK)
    page.p.drawText(
        QRectF(width + 12, top - 2, page.rect.width() - width - 12, 70),
        Qt.TextFlag.TextWordWrap,
        f"Heatmap colour scale: the model's attention for the class named, relative to the "
        f"image's own maximum; transparent below {HEATMAP_TRANSPARENT_BELOW:.0%}{opacity}.",
    )
    page.y = top + max(height + 22, 66) + 6


def _signature(page: _Page, data: ReportData) -> None:
    page.ensure(170)
    page.y += 6
    page.text("Impression", 12, bold=True)
    page.text(data.impression or "—", 10)
    page.y += 30
    width = page.rect.width()
    page.font(9)
    page.p.setPen(_INK)
    y = page.y + 24
    page.p.drawLine(QPointF(0, y), QPointF(width * 0.55, y))
    page.p.drawLine(QPointF(width * 0.65, y), QPointF(width, y))
    page.p.drawText(QPointF(0, y + 14), f"Reader: {data.reader or '(name)'} — signature")
    page.p.drawText(QPointF(width * 0.65, y + 14), "Date")
    page.y = y + 30


def _verdict(page: _Page, data: ReportData) -> None:
    page.text("AI patient-level result", 12, bold=True)
    page.text(verdict_line(data), 14, bold=True)
    for line in data.verdict_details.splitlines():
        page.text(line, 9)
    if np.isfinite(data.verdict_probs).all():
        probs = "   ".join(
            f"{display_name(n)} {percent(float(p))}"
            for n, p in zip(data.class_names, data.verdict_probs, strict=True)
        )
        page.text(f"Class figures: {probs}", 9)
    if data.drivers:
        drivers = ", ".join(f"{label} ({percent(p, 0)})" for label, p in data.drivers)
        page.text(f"Images that drove the result: {drivers}", 9)
    page.y += 10


def _image_row(page: _Page, item: ReportImage, names: tuple[str, ...]) -> None:
    width = page.rect.width()
    pic_w = width * 0.34
    h, w = item.pixels.shape[:2]
    pic_h = pic_w * h / w
    page.ensure(pic_h + 40)
    page.text(item.label, 9.5, bold=True)
    top = page.y
    page.p.drawImage(QRectF(0, top, pic_w, pic_h), to_qimage(item.pixels))
    page.font(7.5)
    page.p.setPen(_MUTED)
    page.p.drawText(QPointF(0, top + pic_h + 14), "image")
    if item.overlay is None:  # not assessable: the reason in grey, no heatmap, no class
        page.font(9, bold=True)
        page.p.drawText(
            QRectF(pic_w + 10, top, width - pic_w - 10, pic_h),
            Qt.TextFlag.TextWordWrap,
            item.outside,
        )
        page.y = top + pic_h + 26
        return
    page.p.drawImage(QRectF(pic_w + 10, top, pic_w, pic_h), to_qimage(item.overlay))
    k = int(item.probs.argmax())
    page.p.drawText(QPointF(pic_w + 10, top + pic_h + 14), f"heatmap: {display_name(names[k])}")
    x = 2 * (pic_w + 10) + 6
    page.font(8.5)
    line = page.p.fontMetrics().height() + 4
    for j, (name, p) in enumerate(zip(names, item.probs, strict=True)):
        page.font(8.5, bold=j == k)
        page.p.setPen(_INK if j == k else _MUTED)
        page.p.drawText(
            QPointF(x, top + line * (j + 1)), f"{display_name(name)}: {percent(float(p))}"
        )
    if item.plane:
        page.font(8.5)
        page.p.setPen(_MUTED)
        page.p.drawText(QPointF(x, top + line * (len(names) + 1.5)), item.plane)
    page.y = top + pic_h + 26


def _measurements(page: _Page, data: ReportData) -> None:
    page.text("Measurements", 12, bold=True)
    if not data.measurements:
        page.text("None taken.", 9, colour=_MUTED)
        page.y += 6
        return
    for m in data.measurements:
        kind = "" if m.kind in ("distance", "ellipse") else f"{m.kind} "
        name = f"{m.kind} ({m.name.lower()})" if kind else m.name
        page.text(f"{name}: {m.value}   ({m.image_label})", 9.5, bold=True)
        if m.details:
            page.text(m.details, 8.5, colour=_MUTED, indent=14)
    page.y += 8


def _paint_pages(page: _Page, data: ReportData) -> None:
    _header(page, data)
    _verdict(page, data)
    _measurements(page, data)
    page.text(
        "Images (left: as acquired; right: heatmap of the image's most probable class, or why "
        "the model cannot assess the image)",
        10,
        bold=True,
    )
    _colour_scale(page, data)
    for item in data.images:
        _image_row(page, item, data.class_names)
    _signature(page, data)
    page.footer()


def paint_report(path: Path, data: ReportData) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(path))
    writer.setResolution(DPI)
    writer.setPageLayout(_a4_layout())
    writer.setTitle(f"CNSight report — {data.patient_label}")
    writer.setCreator(f"CNSight {core.__version__}")
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"cannot write a PDF to {path}")
    try:
        area = writer.pageLayout().paintRectPixels(DPI)
        _paint_pages(
            _Page(painter, data, QRectF(0, 0, area.width(), area.height()), writer.newPage), data
        )
    finally:
        painter.end()
    return path


def render_report_preview(data: ReportData) -> QImage:
    """The report's first page as an image (A4 at the PDF's resolution, margins included)."""
    layout = _a4_layout()
    full, area = layout.fullRectPixels(DPI), layout.paintRectPixels(DPI)
    image = QImage(full.width(), full.height(), QImage.Format.Format_RGB32)
    image.setDotsPerMeterX(round(DPI / 0.0254))
    image.setDotsPerMeterY(round(DPI / 0.0254))
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.translate(area.left(), area.top())

    def stop() -> None:
        raise _LastPage

    try:
        _paint_pages(_Page(painter, data, QRectF(0, 0, area.width(), area.height()), stop), data)
    except _LastPage:
        pass
    finally:
        painter.end()
    return image
