"""Implicit shapes evaluated on sample coordinates, and the canvas anatomy is painted on.

Anatomy is described in an object frame in millimetres (``u`` along the object's long axis,
``v`` across it). Shapes are signed distances (negative inside, in mm), so thicknesses and soft
edges are physical and independent of zoom. Everything is vectorised numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ObjectFrame:
    """Sample coordinates in an object's frame (mm) and the beam direction in that frame."""

    u: np.ndarray
    v: np.ndarray
    beam_u: np.ndarray
    beam_v: np.ndarray
    edge_mm: float  # half a pixel in mm: the width of an anti-aliased edge


def object_frame(x, y, beam_x, beam_y, centre, angle_rad, flip, scale, edge_mm) -> ObjectFrame:
    """Express scanner coordinates (mm) in a frame centred at ``centre``, rotated and mirrored.

    ``scale`` > 1 makes the object look bigger (coordinates are divided by it).
    """
    cos_a, sin_a = np.cos(angle_rad), np.sin(angle_rad)
    dx = x - centre[0]
    dy = y - centre[1]
    u = (dx * cos_a + dy * sin_a) / scale
    v = (-dx * sin_a + dy * cos_a) / scale
    bu = beam_x * cos_a + beam_y * sin_a
    bv = -beam_x * sin_a + beam_y * cos_a
    if flip:
        u, bu = -u, -bu
    return ObjectFrame(u.astype(np.float32), v.astype(np.float32), bu, bv, edge_mm / scale)


def _ellipse_local(u, v, cu, cv, a, b, angle_rad):
    du, dv = u - cu, v - cv
    if angle_rad:
        c, s = np.cos(angle_rad), np.sin(angle_rad)
        du, dv = du * c + dv * s, -du * s + dv * c
    gu = du / (a * a)
    gv = dv / (b * b)
    grad = np.sqrt(gu * gu + gv * gv) + 1e-6
    return (du * gu + dv * gv - 1.0) / (2.0 * grad), gu, gv, grad


def ellipse_distance(u, v, cu, cv, a, b, angle_rad=0.0):
    """Approximate signed distance (mm) to an ellipse (centre, semi-axes, rotation).

    First-order distance f / |grad f| with f = rho^2 - 1: exact on circles, good near the
    boundary of moderately elongated ellipses, which is where it is used. Parameters may be
    arrays (one ellipse per sample).
    """
    return _ellipse_local(u, v, cu, cv, a, b, angle_rad)[0]


def ellipse_distance_normal(u, v, cu, cv, a, b, angle_rad=0.0):
    """Like :func:`ellipse_distance`, plus the outward unit normal (nu, nv) in the frame."""
    dist, gu, gv, grad = _ellipse_local(u, v, cu, cv, a, b, angle_rad)
    nu_local, nv_local = gu / grad, gv / grad
    if not angle_rad:
        return dist, nu_local, nv_local
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return dist, nu_local * c - nv_local * s, nu_local * s + nv_local * c


def circle_distance(u, v, cu, cv, r):
    return np.hypot(u - cu, v - cv) - r


def inside(distance, edge):
    """Soft (anti-aliased) indicator of distance < 0."""
    return np.clip(0.5 - distance / (2.0 * edge), 0.0, 1.0)


def band(distance, half_width, edge):
    """Soft indicator of |distance| < half_width (a ring or a line of given thickness)."""
    return np.clip(0.5 + (half_width - np.abs(distance)) / (2.0 * edge), 0.0, 1.0)


def segment_distance(u, v, p0, p1):
    """Unsigned distance (mm) to the segment p0-p1."""
    du, dv = p1[0] - p0[0], p1[1] - p0[1]
    length2 = du * du + dv * dv + 1e-9
    t = np.clip(((u - p0[0]) * du + (v - p0[1]) * dv) / length2, 0.0, 1.0)
    return np.hypot(u - (p0[0] + t * du), v - (p0[1] + t * dv))


class Canvas:
    """Echo amplitude (``echo``) and bone attenuation (``bone``) over the beam grid.

    Painting composites over what is there: a later structure replaces an earlier one where its
    mask is 1, so anatomy is drawn from the outside in.
    """

    def __init__(self, shape: tuple[int, int], background: float, texture: np.ndarray):
        self.echo = np.full(shape, background, dtype=np.float32)
        self.bone = np.zeros(shape, dtype=np.float32)
        self.texture = texture  # smooth multiplicative heterogeneity of soft tissue, mean 1

    def paint(self, mask, level, textured: bool = True) -> None:
        value = level * self.texture if textured else level
        self.echo += mask * (value - self.echo)
        self.bone *= 1.0 - mask

    def paint_bone(self, mask, level, attenuation) -> None:
        """Bone: bright echo plus attenuation that shadows what lies behind it."""
        self.echo += mask * (level - self.echo)
        self.bone = np.maximum(self.bone, mask * attenuation)

    def add(self, mask, level) -> None:
        """Add echoes without replacing (e.g. floating particles, septa)."""
        self.echo += mask * level


def specular(normal_u, normal_v, frame: ObjectFrame, floor: float = 0.3):
    """Brightness of a smooth surface: strongest where it faces the beam (specular reflection)."""
    facing = np.abs(normal_u * frame.beam_u + normal_v * frame.beam_v)
    return floor + (1.0 - floor) * facing**3
