"""Distances and ellipses through points given in image pixels, measured in millimetres when a
``Scale`` says how (``calibration.Scale``), in pixels otherwise.

Points are (x, y) in pixel-edge coordinates of the full image (pixel (i, j) covers
[i, i + 1) x [j, j + 1)). With a scale, each point is first taken to millimetres
(x * mm_per_px_x, y * mm_per_px_y), so pixels that are not square measure right; the ellipse
is defined in that physical plane.

An ellipse is three points: the two ends of one axis (p1, p2; for a head circumference the
occipito-frontal diameter) and one point whose distance from that axis is the other
semi-axis (p3; the biparietal half-width). Its circumference is Ramanujan's second
approximation (relative error below 1e-9 for cephalic indices of heads), its area pi a b.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.measurements.calibration import Point, Scale


def to_physical(points: Sequence[Point], scale: Scale | None) -> np.ndarray:
    """N x 2 coordinates in mm (with a calibrated scale) or pixels."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if scale is not None and scale.mm_per_px is not None:
        arr = arr * np.asarray(scale.mm_per_px, dtype=np.float64)
    return arr


def distance(points: Sequence[Point], scale: Scale | None = None) -> float:
    """Length of the segment p0-p1, in mm or pixels (``scale``)."""
    if len(points) != 2:
        raise ValueError(f"a distance needs 2 points, got {len(points)}")
    p = to_physical(points, scale)
    return float(np.hypot(*(p[1] - p[0])))


def ellipse_axes(points: Sequence[Point], scale: Scale | None = None) -> tuple[float, float]:
    """Semi-axes (a along p1-p2, b from p3) in mm or pixels."""
    if len(points) != 3:
        raise ValueError(f"an ellipse needs 3 points, got {len(points)}")
    p = to_physical(points, scale)
    axis = p[1] - p[0]
    a = float(np.hypot(*axis)) / 2.0
    if a == 0:
        return 0.0, 0.0
    u = axis / (2.0 * a)
    rel = p[2] - (p[0] + p[1]) / 2.0
    b = abs(float(u[0] * rel[1] - u[1] * rel[0]))
    return a, b


def ramanujan_circumference(a: float, b: float) -> float:
    """Perimeter of an ellipse with semi-axes a, b (Ramanujan 1914, second approximation)."""
    if a < 0 or b < 0:
        raise ValueError("semi-axes must not be negative")
    if a + b == 0:
        return 0.0
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1.0 + 3.0 * h / (10.0 + math.sqrt(4.0 - 3.0 * h)))


def ellipse_area(a: float, b: float) -> float:
    return math.pi * a * b


def ellipse_outline(points: Sequence[Point], scale: Scale | None = None, n: int = 96) -> np.ndarray:
    """n x 2 points of the ellipse in image pixels (for drawing it)."""
    p = to_physical(points, scale)
    a, b = ellipse_axes(points, scale)
    centre = (p[0] + p[1]) / 2.0
    if a == 0:
        outline = np.repeat(centre[None], n, axis=0)
    else:
        u = (p[1] - p[0]) / (2.0 * a)
        v = np.array([-u[1], u[0]])
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)[:, None]
        outline = centre + a * np.cos(t) * u + b * np.sin(t) * v
    if scale is not None and scale.mm_per_px is not None:
        outline = outline / np.asarray(scale.mm_per_px, dtype=np.float64)
    return outline


def ellipse_third_point(points: Sequence[Point], b_fraction: float = 0.78) -> Point:
    """A starting p3 for an ellipse drawn from its axis p1-p2: on the perpendicular through the
    centre at ``b_fraction`` of the half-axis (0.78: a typical cephalic index). In pixels."""
    (x1, y1), (x2, y2) = points[0], points[1]
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    dx, dy = (x2 - x1) / 2.0, (y2 - y1) / 2.0
    return cx - dy * b_fraction, cy + dx * b_fraction
