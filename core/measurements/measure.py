"""A measurement (what the reader drew) and its result (what it measures, with its GA)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace

from core.measurements import biometry, geometry
from core.measurements.biometry import ELLIPSE, KINDS, GaEstimate
from core.measurements.calibration import Calibration, Point, Scale

POINTS_PER_TOOL = {biometry.DISTANCE: 2, ELLIPSE: 3}


@dataclass(frozen=True)
class Measurement:
    """Points in image pixels (pixel-edge coordinates) and what they measure."""

    kind: str
    points: tuple[Point, ...]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown measurement kind {self.kind!r}")
        want = POINTS_PER_TOOL[KINDS[self.kind].tool]
        if len(self.points) != want:
            raise ValueError(
                f"a {self.kind} measurement needs {want} points, got {len(self.points)}"
            )
        pts = tuple((float(x), float(y)) for x, y in self.points)
        object.__setattr__(self, "points", pts)

    @property
    def tool(self) -> str:
        return KINDS[self.kind].tool

    def moved(self, index: int, point: Point) -> Measurement:
        pts = list(self.points)
        pts[index] = (float(point[0]), float(point[1]))
        return replace(self, points=tuple(pts))

    def relabelled(self, kind: str) -> Measurement:
        """The same points as another kind of the same tool (a distance called BPD ...)."""
        if KINDS[kind].tool != self.tool:
            raise ValueError(f"{kind} is not measured with a {self.tool}")
        return replace(self, kind=kind)


@dataclass(frozen=True)
class Result:
    value: float  # length (distance) or circumference (ellipse)
    scale: Scale
    area: float | None = None  # ellipse only
    axes: tuple[float, float] | None = None  # ellipse diameters (2a, 2b)
    ga: GaEstimate | None = None
    centile: float | None = None  # at the reference GA
    centile_ga: float | None = None
    note: str = ""  # why no centile is given, when the kind has a standard

    @property
    def unit(self) -> str:
        return self.scale.unit

    def value_text(self) -> str:
        return f"{self.value:.1f} {self.unit}"

    def details(self) -> list[str]:
        out = []
        if self.area is not None:
            out.append(f"area {self.area:.0f} {self.unit}²")
        if self.axes is not None:
            out.append(f"axes {self.axes[0]:.1f} × {self.axes[1]:.1f} {self.unit}")
        if self.ga is not None:
            out.append(self.ga.text)
        if self.centile is not None and self.centile_ga is not None:
            out.append(
                f"{_centile_text(self.centile)} centile at {biometry.format_weeks(self.centile_ga)}"
            )
        if self.note:
            out.append(self.note)
        if not self.scale.calibrated:
            out.append(f"in pixels: {self.scale.reason}")
        return out


def _centile_text(c: float) -> str:
    if c < 1:
        return "< 1st"
    if c > 99:
        return "> 99th"
    n = int(round(c))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def evaluate(
    m: Measurement, calibration: Calibration | None, ga_weeks: float | None = None
) -> Result:
    """What ``m`` measures on an image with ``calibration``; GA and centile only in mm.

    ``ga_weeks``: the pregnancy's GA when known (the centile is read at it)."""
    scale = (calibration or Calibration()).scale_for(m.points)
    if m.tool == ELLIPSE:
        a, b = geometry.ellipse_axes(m.points, scale)
        value = geometry.ramanujan_circumference(a, b)
        area, axes = geometry.ellipse_area(a, b), (2 * a, 2 * b)
    else:
        value, area, axes = geometry.distance(m.points, scale), None, None
    if not scale.calibrated or value <= 0:
        return Result(value, scale, area, axes)
    ga = biometry.ga_estimate(m.kind, value)
    c = biometry.centile(m.kind, value, ga_weeks) if ga_weeks is not None else None
    note = ""
    if c is None and biometry.size_for_ga(m.kind, 20.0) is not None:
        note = (
            "no centile: the pregnancy's GA is not known"
            if ga_weeks is None
            else f"no centile at {biometry.format_weeks(ga_weeks)}: the standard covers 14-40 weeks"
        )
    return Result(value, scale, area, axes, ga, c, ga_weeks if c is not None else None, note)
