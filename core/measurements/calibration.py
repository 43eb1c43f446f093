"""Pixel -> millimetre calibration of an image, from its DICOM header.

Sources, in the order a measurement uses them:

1. (0018,6011) Sequence of Ultrasound Regions. Each region has its own scale,
   (0018,602C/602E) Physical Delta X/Y in the units of (0018,6024/6026) Physical Units X/Y
   Direction (PS3.3 C.8.5.5.1.1; 3 = cm). A measurement is in mm only when all its points lie
   in one region whose units are cm in both directions; outside every region, across two
   regions, or in a region without spatial units (M-mode time axis, Doppler, "none") it is in
   pixels, and the reason says why. A header with regions never falls back to Pixel Spacing:
   the regions are the scanner's own statement of where distances mean something.
2. (0028,0030) Pixel Spacing (row, column spacing in mm), else (0018,1164) Imager Pixel
   Spacing, for files without regions.
3. Nothing: pixels.

(0028,0034) Pixel Aspect Ratio (vertical : horizontal) is kept for the display, which must
show non-square pixels stretched (and measures in pixels along the shown geometry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: (0018,6024) Physical Units X/Y Direction codes (PS3.3 C.8.5.5.1.1).
PHYSICAL_UNITS = {
    0: "none",
    1: "percent",
    2: "dB",
    3: "cm",
    4: "seconds",
    5: "hertz",
    6: "dB/seconds",
    7: "cm/sec",
    8: "cm²",
    9: "cm²/sec",
    10: "cm³",
    11: "cm³/sec",
    12: "degrees",
}
CM = 3
Point = tuple[float, float]


@dataclass(frozen=True)
class RegionCalibration:
    """One ultrasound region: its box (x0, y0, x1, y1, end exclusive, in pixel-edge
    coordinates: pixel (i, j) covers [i, i + 1) x [j, j + 1)) and its scale."""

    box: tuple[int, int, int, int]
    units_x: str
    units_y: str
    delta_x: float | None  # physical units per pixel, as in the file
    delta_y: float | None
    spatial_format: int | None = None  # (0018,6012): 1 = 2D, 2 = M-mode, 3 = spectral, ...

    def contains(self, point: Point) -> bool:
        x, y = point
        x0, y0, x1, y1 = self.box
        return x0 <= x <= x1 and y0 <= y <= y1  # a point on the far edge still counts

    @property
    def mm_per_px(self) -> tuple[float, float] | None:
        """(x, y) mm per pixel, or None when the region has no spatial units (cm)."""
        if self.units_x != "cm" or self.units_y != "cm":
            return None
        if not _positive(self.delta_x) or not _positive(self.delta_y):
            return None
        return 10.0 * float(self.delta_x), 10.0 * float(self.delta_y)


@dataclass(frozen=True)
class Scale:
    """How one measurement's pixels become lengths: ``mm_per_px`` (x, y) or pixels, and why."""

    mm_per_px: tuple[float, float] | None
    source: str  # "ultrasound region 1", "Pixel Spacing", ...
    reason: str = ""  # why the measurement is in pixels ("" when in mm)

    @property
    def calibrated(self) -> bool:
        return self.mm_per_px is not None

    @property
    def unit(self) -> str:
        return "mm" if self.calibrated else "px"


@dataclass(frozen=True)
class Calibration:
    """Everything an image's header says about its physical scale."""

    regions: tuple[RegionCalibration, ...] = ()
    pixel_spacing: tuple[float, float] | None = None  # (row = y, column = x) mm
    spacing_source: str = ""  # "Pixel Spacing" or "Imager Pixel Spacing"
    aspect_ratio: tuple[float, float] | None = None  # (vertical, horizontal), Pixel Aspect Ratio
    notes: tuple[str, ...] = field(default_factory=tuple)  # header values that were not usable

    @property
    def has_physical_scale(self) -> bool:
        return any(r.mm_per_px for r in self.regions) or self.pixel_spacing is not None

    def display_aspect(self) -> float:
        """Height of one pixel relative to its width on screen (1.0 = square pixels)."""
        if self.aspect_ratio is not None:
            vertical, horizontal = self.aspect_ratio
            return vertical / horizontal
        if self.pixel_spacing is not None and not self.regions:
            row, column = self.pixel_spacing
            return row / column
        return 1.0

    def scale_for(self, points: list[Point] | tuple[Point, ...]) -> Scale:
        """The scale a measurement through ``points`` (image pixels) is taken with."""
        if self.regions:
            holders = [{i for i, r in enumerate(self.regions) if r.contains(p)} for p in points]
            if any(not h for h in holders):
                return Scale(None, "", "outside the calibrated ultrasound region")
            common = set.intersection(*holders) if holders else set()
            if not common:
                return Scale(None, "", "the points lie in different ultrasound regions")
            candidates = [i for i in sorted(common) if self.regions[i].mm_per_px]
            if not candidates:
                region = self.regions[min(common)]
                return Scale(
                    None,
                    "",
                    f"the ultrasound region has no spatial units "
                    f"(units {region.units_x} × {region.units_y})",
                )
            index = candidates[0]
            return Scale(self.regions[index].mm_per_px, f"ultrasound region {index + 1}")
        if self.pixel_spacing is not None:
            row, column = self.pixel_spacing
            return Scale((column, row), self.spacing_source or "Pixel Spacing")
        return Scale(None, "", "the file gives no physical scale")


def _positive(value) -> bool:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and v > 0


def _number(value) -> float | None:
    return float(value) if _positive(value) else None


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _pair(value) -> tuple[float, float] | None:
    try:
        items = list(value)
    except TypeError:
        return None
    if len(items) != 2 or not all(_positive(v) for v in items):
        return None
    return float(items[0]), float(items[1])


def _region(item: Any, index: int, notes: list[str]) -> RegionCalibration | None:
    try:
        box = (
            int(item.RegionLocationMinX0),
            int(item.RegionLocationMinY0),
            int(item.RegionLocationMaxX1) + 1,  # inclusive maxima (PS3.3 C.8.5.5.1)
            int(item.RegionLocationMaxY1) + 1,
        )
    except (AttributeError, TypeError, ValueError):
        notes.append(f"ultrasound region {index + 1} has no usable location: ignored")
        return None
    if box[2] <= box[0] or box[3] <= box[1]:
        notes.append(f"ultrasound region {index + 1} is empty: ignored")
        return None
    ux, uy = (
        _int_or_none(item.get("PhysicalUnitsXDirection")),
        _int_or_none(item.get("PhysicalUnitsYDirection")),
    )
    region = RegionCalibration(
        box=box,
        units_x=PHYSICAL_UNITS.get(ux, "none" if ux is None else f"code {ux}"),
        units_y=PHYSICAL_UNITS.get(uy, "none" if uy is None else f"code {uy}"),
        delta_x=_number(item.get("PhysicalDeltaX")),
        delta_y=_number(item.get("PhysicalDeltaY")),
        spatial_format=_int_or_none(item.get("RegionSpatialFormat")),
    )
    if region.units_x == "cm" and region.units_y == "cm" and region.mm_per_px is None:
        notes.append(f"ultrasound region {index + 1}: Physical Delta X/Y missing or not positive")
    return region


def _get(ds: Any, keyword: str, notes: list[str]):
    """``ds.get(keyword)``; a value pydicom cannot convert is noted and ignored."""
    try:
        return ds.get(keyword)
    except Exception as exc:  # invalid DS/IS strings raise on access in strict modes
        notes.append(f"{keyword} cannot be read ({exc}): ignored")
        return None


def calibration_from_dataset(ds: Any) -> Calibration:
    """The calibration a pydicom Dataset (or a mapping of keywords) declares. Never raises:
    values that cannot be used are listed in ``notes``."""
    notes: list[str] = []
    regions = []
    for i, item in enumerate(_get(ds, "SequenceOfUltrasoundRegions", notes) or []):
        try:
            region = _region(item, i, notes)
        except Exception as exc:  # a malformed item must not cost the image its display
            notes.append(f"ultrasound region {i + 1} cannot be read ({exc}): ignored")
            continue
        if region is not None:
            regions.append(region)
    spacing, source = None, ""
    for keyword, label in (("PixelSpacing", "Pixel Spacing"),
                           ("ImagerPixelSpacing", "Imager Pixel Spacing")):  # fmt: skip
        if keyword in ds:
            value = _get(ds, keyword, notes)
            spacing = _pair(value)
            if spacing is not None:
                source = label
                break
            notes.append(f"{label} {value!r} is not two positive numbers: ignored")
    aspect = _pair(_get(ds, "PixelAspectRatio", notes)) if "PixelAspectRatio" in ds else None
    if "PixelAspectRatio" in ds and aspect is None:
        notes.append("Pixel Aspect Ratio is not two positive numbers: square pixels assumed")
    return Calibration(tuple(regions), spacing, source, aspect, tuple(notes))
