"""Burned-in annotations: header text, acquisition parameters, depth ruler, grey bar, calipers.

The layout is the site's and the content comes from the patient record and the acquisition,
never from the class (tests check the header pixels are identical across classes).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import cv2
import numpy as np

from phantoms.geometry import Sector
from phantoms.growth import format_ga
from phantoms.names import header_person_name
from phantoms.sites import Site

FONT = cv2.FONT_HERSHEY_PLAIN
#: What a drawn text says, for de-identification benchmarks: the kinds that identify someone.
IDENTIFYING_KINDS: tuple[str, ...] = ("institution", "name_id", "date")


@dataclass(frozen=True)
class DrawnText:
    """One text line burned into the image, where ``cv2.getTextSize`` says it lies: ``box`` is
    (x0, y0, x1, y1) in pixels, ends exclusive, from the cap line to below the baseline."""

    kind: str  # "institution", "name_id", "date", "ga", "parameter", "caliper"
    text: str
    box: tuple[int, int, int, int]

    def as_json(self) -> dict:
        return {"kind": self.kind, "text": self.text, "box": list(self.box)}


@dataclass(frozen=True)
class HeaderInfo:
    """What the scanner prints about the patient and the exam."""

    family_name: str
    given_name: str
    patient_id: str
    exam_date: dt.date
    exam_time: str  # "HH:MM:SS"
    ga_weeks: float


@dataclass(frozen=True)
class Caliper:
    """A distance measurement: two end points in image pixels and its readout."""

    start: tuple[float, float]
    end: tuple[float, float]
    name: str  # "BPD", "L", ...
    length_mm: float


def _font_scale(site: Site, height: int) -> float:
    return site.layout.font_scale * height / 256.0


def _put(
    image, text, anchor, site: Site, kind: str, right: bool = False, level: int | None = None
) -> DrawnText:
    height, width = image.shape
    scale = _font_scale(site, height)
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    x = int(round(anchor[0] * width)) - (text_w if right else 0)
    y = int(round(anchor[1] * height))
    value = site.layout.text_level if level is None else level
    cv2.putText(image, text, (x, y), FONT, scale, value, 1, cv2.LINE_AA)
    # Anti-aliased strokes reach one pixel past the nominal box on each side.
    box = (max(0, x - 1), max(0, y - text_h - 1), min(width, x + text_w + 1))
    return DrawnText(kind, text, (*box, min(height, y + baseline + 1)))


def header_lines(site: Site, info: HeaderInfo) -> list[str]:
    """The header's lines in the order of the site's anchors."""
    date = info.exam_date.strftime(site.layout.date_format)
    name = header_person_name(info.family_name, info.given_name)
    ga = f"GA {format_ga(info.ga_weeks)}"
    n = len(site.layout.header)
    if n >= 4:
        return [site.hospital, f"{name}  ID {info.patient_id}", f"{date} {info.exam_time}", ga][:n]
    return [site.hospital, f"{name}  ID {info.patient_id}", f"{date} {info.exam_time}  {ga}"][:n]


def header_kinds(site: Site) -> list[str]:
    """What each of ``header_lines`` says (a 3-line header puts the age after the date)."""
    return ["institution", "name_id", "date", "ga"][: len(site.layout.header)]


def parameter_lines(
    site: Site, depth_mm: float, gain_db: float, dynamic_range_db: float
) -> list[str]:
    return [
        site.scanner,
        f"{site.probe} {site.frequency_mhz:.1f}MHz",
        f"Gn {int(round(50 + gain_db * 2))}",
        f"DR {int(round(dynamic_range_db))}",
        f"D {depth_mm / 10:.1f}cm",
        "FR 27Hz",
        "MI 0.9  TIb 0.3",
    ]


def draw_header(
    image: np.ndarray, site: Site, info: HeaderInfo, params: list[str]
) -> list[DrawnText]:
    """Header text and the parameter column, in place; returns where each line went."""
    layout = site.layout
    drawn = []
    for text, kind, anchor, right in zip(
        header_lines(site, info),
        header_kinds(site),
        layout.header,
        layout.header_align_right,
        strict=False,
    ):
        centred = anchor[0] == 0.5
        if centred:
            scale = _font_scale(site, image.shape[0])
            (text_w, _), _ = cv2.getTextSize(text, FONT, scale, 1)
            anchor = (anchor[0] - text_w / 2 / image.shape[1], anchor[1])
        drawn.append(_put(image, text, anchor, site, kind, right=right))
    step = 0.05  # line spacing, fraction of the image height
    right = layout.params[0] > 0.5
    for i, text in enumerate(params):
        drawn.append(
            _put(
                image,
                text,
                (layout.params[0], layout.params[1] + i * step),
                site,
                "parameter",
                right=right,
                level=layout.text_level - 30,
            )
        )
    return drawn


def draw_scanner_marks(image: np.ndarray, site: Site, sector: Sector, focus_mm: float) -> None:
    """Depth ruler (1 cm ticks), focus marker, orientation mark and grey bar, in place."""
    level = site.layout.text_level
    ppm = sector.px_per_mm
    side = sector.half_angle
    for cm in range(0, int(sector.depth_mm // 10) + 1):
        r = sector.r0 + cm * 10 * ppm
        x = sector.apex_x + (r * math.sin(side)) + 3
        y = sector.apex_y + r * math.cos(side)
        length = 4 if cm % 5 == 0 else 2
        cv2.line(image, (int(x), int(y)), (int(x) + length, int(y)), level, 1)
    r_focus = sector.r0 + focus_mm * ppm
    fx = int(sector.apex_x - r_focus * math.sin(side)) - 6
    fy = int(sector.apex_y + r_focus * math.cos(side))
    cv2.fillConvexPoly(image, np.array([[fx, fy - 3], [fx, fy + 3], [fx + 4, fy]], np.int32), level)
    ox = int(sector.apex_x - sector.r0 * math.sin(side))
    oy = int(sector.apex_y + sector.r0 * math.cos(side)) - 4
    cv2.circle(image, (ox, oy), 2, level, -1, cv2.LINE_AA)
    if site.layout.grey_bar:
        height, width = image.shape
        top, bottom = int(0.3 * height), int(0.7 * height)
        ramp = np.linspace(255, 0, bottom - top).astype(np.uint8)[:, None]
        image[top:bottom, width - 10 : width - 4] = ramp


def draw_caliper(image: np.ndarray, site: Site, caliper: Caliper) -> DrawnText:
    """Dotted line between two '+' markers and the readout, in place; returns the readout's
    place."""
    level = 235
    height = image.shape[0]
    arm = max(2, int(round(3 * height / 256)))
    (x0, y0), (x1, y1) = caliper.start, caliper.end
    length = math.hypot(x1 - x0, y1 - y0)
    for t in np.arange(0.0, 1.0, 3.0 / max(length, 1.0))[1:]:
        cv2.circle(
            image, (int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))), 0, level, -1
        )
    for x, y in caliper.start, caliper.end:
        xi, yi = int(round(x)), int(round(y))
        cv2.line(image, (xi - arm, yi), (xi + arm, yi), level, 1)
        cv2.line(image, (xi, yi - arm), (xi, yi + arm), level, 1)
    readout = f"1 {caliper.name} {caliper.length_mm:.1f}mm"
    return _put(
        image, readout, site.layout.readout, site, "caliper", right=site.layout.readout[0] > 0.5
    )
