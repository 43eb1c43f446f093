"""The study report as a PDF without Qt (matplotlib's PDF backend), for ``cnsight-predict``.

The app sends its own report (``desktop.report_pdf``, painted with Qt); the CLI has no Qt, so
it writes this shorter one with the same facts: the patient verdict in the app's words
(``core.verdict_wording``), the rule and flags, every image's result (or why it cannot be
assessed), the model's identity and the research-use line on every page.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from .. import RESEARCH_USE_ONLY, __version__
from ..domain import REASONS
from ..probability_text import percent
from ..taxonomy import display_name
from ..verdict_wording import plane_text, verdict_details, verdict_line
from .identity import model_version

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from ..aggregation import PatientPrediction
    from ..bundle import ModelCard
    from ..predictor import ImagePrediction

_A4 = (8.27, 11.69)  # inches
_LEFT, _TOP, _BOTTOM = 0.07, 0.95, 0.07
_INK, _MUTED, _WARN = "#111111", "#555555", "#9a3b00"
#: Columns of the image table: (header, x position as a fraction of the page width, width in
#: characters at 8.5 pt).
_COLUMNS = (("#", 0.07, 3), ("Image", 0.11, 34), ("Result", 0.38, 44), ("Notes", 0.69, 40))


class _Pages:
    """A line cursor over A4 pages; a new page when the current one is full."""

    def __init__(self, pdf: PdfPages, footer: str):
        self.pdf, self.footer = pdf, footer
        self.fig: Figure | None = None
        self.y = _TOP
        self.number = 0

    def _new(self) -> None:
        self.close()
        self.fig = Figure(figsize=_A4)
        self.number += 1
        self.y = _TOP

    def close(self) -> None:
        if self.fig is not None:
            self.fig.text(_LEFT, 0.035, self.footer, fontsize=7.5, color=_WARN)
            self.fig.text(
                0.93, 0.035, f"page {self.number}", fontsize=7.5, color=_MUTED, ha="right"
            )
            self.pdf.savefig(self.fig)
            self.fig = None

    def line(self, text: str, size: float = 9.5, bold: bool = False, colour: str = _INK,
             x: float = _LEFT, width: int = 100, advance: bool = True) -> None:  # fmt: skip
        wrapped = textwrap.wrap(text, width=width) or [""]
        step = size / 72 / _A4[1] * 1.45
        if self.fig is None or self.y - step * len(wrapped) < _BOTTOM:
            self._new()
        for i, part in enumerate(wrapped):
            self.fig.text(x, self.y - i * step, part, fontsize=size, color=colour,
                          weight="bold" if bold else "normal", va="top")  # fmt: skip
        if advance:
            self.y -= step * len(wrapped) + step * 0.25

    def gap(self, size: float = 6) -> None:
        self.y -= size / 72 / _A4[1]

    def row(self, cells: Sequence[str], size: float = 8.5, bold: bool = False,
            colour: str = _INK) -> None:  # fmt: skip
        """One table row; the cells wrap within their column, the row is as tall as its
        tallest cell."""
        wrapped = [
            textwrap.wrap(c, width) or [""]
            for c, (_h, _x, width) in zip(cells, _COLUMNS, strict=True)
        ]
        step = size / 72 / _A4[1] * 1.4
        height = step * max(len(w) for w in wrapped)
        if self.fig is None or self.y - height < _BOTTOM:
            self._new()
        for (_header, x, _w), lines in zip(_COLUMNS, wrapped, strict=True):
            for i, part in enumerate(lines):
                self.fig.text(x, self.y - i * step, part, fontsize=size, color=colour,
                              weight="bold" if bold else "normal", va="top")  # fmt: skip
        self.y -= height + step * 0.3


def _patient_lines(header: Dataset) -> list[str]:
    name = str(header.get("PatientName") or "").replace("^", " ").strip()
    lines = []
    if name:
        lines.append(f"Patient name: {name}")
    if header.get("PatientID"):
        lines.append(f"Patient ID: {header.PatientID}")
    if header.get("StudyDate"):
        date = str(header.StudyDate)
        lines.append(f"Study date: {date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 else date)
    lines.append(f"Study Instance UID: {header.StudyInstanceUID}")
    return lines


def _image_cells(number: int, pred: ImagePrediction, names: Sequence[str]) -> list[str]:
    if not pred.assessable:
        reason = REASONS.get(pred.check.reason, pred.check.reason)
        return [str(number), pred.ref.name, "Not assessable", f"{reason}: {pred.check.message}"]
    k = pred.pred_index
    return [
        str(number),
        pred.ref.name,
        f"{display_name(names[k])} {percent(float(pred.probs[k]))}",
        plane_text(pred),
    ]


def study_report_pdf(
    header: Dataset,
    predictions: Sequence[ImagePrediction],
    verdict: PatientPrediction,
    card: ModelCard,
    created: dt.datetime | None = None,
) -> bytes:
    """The report's bytes. ``header``: a source image's header (patient and study facts)."""
    created = created or dt.datetime.now().astimezone()
    names = card.class_names
    buf = io.BytesIO()
    metadata = {"Title": "CNSight study report", "Creator": f"CNSight {__version__}"}
    with PdfPages(buf, metadata=metadata) as pdf:
        pages = _Pages(pdf, f"{RESEARCH_USE_ONLY}  ·  CNSight {__version__}")
        pages.line("CNSight — study report", 17, bold=True)
        pages.line(RESEARCH_USE_ONLY, 11, bold=True, colour=_WARN)
        pages.gap()
        for text in _patient_lines(header):
            pages.line(text, 10)
        pages.line(f"Generated {created.isoformat(timespec='seconds')}  ·  CNSight {__version__}",
                   8.5, colour=_MUTED)  # fmt: skip
        pages.line(f"Model: {card.name}  ·  version {model_version(card)}", 8.5, colour=_MUTED)
        pages.line(f"Weights sha256: {card.weights_sha256}", 8, colour=_MUTED)
        pages.gap(10)
        pages.line("AI patient-level result", 12, bold=True)
        pages.line(verdict_line(verdict), 14, bold=True)
        for text in verdict_details(verdict).splitlines():
            pages.line(text, 9)
        if verdict.assessable:
            figures = "   ".join(
                f"{display_name(n)} {percent(float(p))}"
                for n, p in zip(names, verdict.probs, strict=True)
            )
            pages.line(f"Class figures: {figures}", 9)
            labels = {p.ref.key: p.ref.name for p in predictions}
            drivers = ", ".join(f"{labels.get(k, k)} ({percent(p, 0)})" for k, p in verdict.drivers)
            pages.line(f"Images that drove the result: {drivers}", 9)
        pages.gap(10)
        pages.line(f"Images ({len(predictions)})", 12, bold=True)
        pages.row([h for h, _x, _w in _COLUMNS], bold=True, colour=_MUTED)
        for number, pred in enumerate(predictions, start=1):
            pages.row(_image_cells(number, pred, names))
        pages.gap(10)
        pages.line(
            "Heatmaps of the images that drove the result are in the study as Secondary Capture "
            "images; the findings, image by image, in its Structured Report.",
            8.5,
            colour=_MUTED,
        )
        pages.close()
    return buf.getvalue()
