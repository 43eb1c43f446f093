"""Sector (fan) geometry of a convex probe, and scan conversion between beam and image space.

Echoes are simulated on a polar grid, one row per beam (scan line) and one column per depth
sample, as a scanner acquires them; the grid is then scan-converted to the Cartesian image.
That makes speckle fan out with depth and shadows run along the beams, as on real scanners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from phantoms.sites import Site


@dataclass(frozen=True)
class Sector:
    """A fan in image pixels: virtual apex, probe-face radius ``r0``, far radius ``r1``."""

    width: int
    height: int
    apex_x: float
    apex_y: float  # may be above the image (negative) for a convex probe
    r0: float
    r1: float
    half_angle: float  # radians
    depth_mm: float  # what r1 - r0 stands for

    @property
    def px_per_mm(self) -> float:
        return (self.r1 - self.r0) / self.depth_mm

    @property
    def face_y(self) -> float:
        return self.apex_y + self.r0

    def bounding_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the fan, end inclusive, clipped to the image."""
        s = math.sin(self.half_angle)
        c = math.cos(self.half_angle)
        xs = (self.apex_x - self.r1 * s, self.apex_x + self.r1 * s)
        ys = (self.apex_y + self.r0 * c, self.apex_y + self.r1)
        x0 = max(0, int(math.floor(xs[0])))
        x1 = min(self.width - 1, int(math.ceil(xs[1])))
        y0 = max(0, int(math.floor(ys[0])))
        y1 = min(self.height - 1, int(math.ceil(ys[1])))
        return x0, y0, x1, y1


def make_sector(site: Site, size: tuple[int, int], depth_mm: float) -> Sector:
    """The fan of ``site`` in an image of ``size`` = (width, height)."""
    width, height = size
    apex_depth = site.apex_depth * height
    face_y = site.face_y * height
    apex_x = site.apex_x * width
    apex_y = face_y - apex_depth
    half = math.radians(site.half_angle_deg)
    # The fan must stay inside the image: bottom edge and both side edges.
    r_bottom = site.bottom_y * height - apex_y
    margin = 0.02 * width
    r_side = (min(apex_x, width - apex_x) - margin) / math.sin(half)
    r1 = max(apex_depth + 0.3 * height, min(r_bottom, r_side))
    return Sector(width, height, apex_x, apex_y, apex_depth, r1, half, depth_mm)


@dataclass(frozen=True)
class BeamGrid:
    """Sample positions of the polar grid, shape (n_beams, n_samples), in mm.

    ``x``/``y`` are relative to the probe-face centre (y = depth along the central beam),
    ``depth`` is the range below the probe face along each beam, ``beam_x``/``beam_y`` the unit
    beam direction.
    """

    x: np.ndarray
    y: np.ndarray
    depth: np.ndarray
    beam_x: np.ndarray
    beam_y: np.ndarray
    mm_per_sample: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.x.shape


def beam_grid(sector: Sector) -> BeamGrid:
    """The polar sampling grid of ``sector``: about one sample per output pixel at the far end."""
    n_samples = max(16, int(round(sector.r1 - sector.r0)))
    n_beams = max(16, int(round(2 * sector.half_angle * sector.r1 * 0.85)))
    theta = np.linspace(-sector.half_angle, sector.half_angle, n_beams, dtype=np.float32)
    radius_px = np.linspace(sector.r0, sector.r1, n_samples, dtype=np.float32)
    sin_t = np.sin(theta)[:, None]
    cos_t = np.cos(theta)[:, None]
    mm = 1.0 / sector.px_per_mm
    r = radius_px[None, :]
    x = (r * sin_t) * mm
    y = (r * cos_t - sector.r0) * mm
    depth = np.broadcast_to((r - sector.r0) * mm, x.shape)
    beam_x = np.broadcast_to(sin_t, x.shape)
    beam_y = np.broadcast_to(cos_t, x.shape)
    return BeamGrid(
        x=x.astype(np.float32),
        y=y.astype(np.float32),
        depth=np.ascontiguousarray(depth, dtype=np.float32),
        beam_x=np.ascontiguousarray(beam_x, dtype=np.float32),
        beam_y=np.ascontiguousarray(beam_y, dtype=np.float32),
        mm_per_sample=float((sector.r1 - sector.r0) / (n_samples - 1) * mm),
    )


def fan_mask(sector: Sector) -> np.ndarray:
    """Boolean image mask of the fan (True inside)."""
    ys, xs = np.mgrid[0 : sector.height, 0 : sector.width].astype(np.float32)
    dx = xs - sector.apex_x
    dy = ys - sector.apex_y
    r = np.hypot(dx, dy)
    theta = np.arctan2(dx, dy)
    return (r >= sector.r0) & (r <= sector.r1) & (np.abs(theta) <= sector.half_angle) & (dy > 0)


def scan_convert(polar: np.ndarray, sector: Sector) -> np.ndarray:
    """Resample a (n_beams, n_samples) float image onto the Cartesian image; 0 outside the fan."""
    n_beams, n_samples = polar.shape
    ys, xs = np.mgrid[0 : sector.height, 0 : sector.width].astype(np.float32)
    dx = xs - sector.apex_x
    dy = ys - sector.apex_y
    r = np.hypot(dx, dy)
    theta = np.arctan2(dx, dy)
    map_sample = (r - sector.r0) / (sector.r1 - sector.r0) * (n_samples - 1)
    map_beam = (theta + sector.half_angle) / (2 * sector.half_angle) * (n_beams - 1)
    image = cv2.remap(
        polar.astype(np.float32),
        map_sample.astype(np.float32),
        map_beam.astype(np.float32),
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    inside = (r >= sector.r0) & (r <= sector.r1) & (np.abs(theta) <= sector.half_angle) & (dy > 0)
    return np.where(inside, image, 0.0).astype(np.float32)


def mm_to_pixel(sector: Sector, x_mm: float, y_mm: float) -> tuple[float, float]:
    """Image pixel of a point given in probe-face coordinates (mm)."""
    return (
        sector.apex_x + x_mm * sector.px_per_mm,
        sector.face_y + y_mm * sector.px_per_mm,
    )
