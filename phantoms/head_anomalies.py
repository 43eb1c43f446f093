"""Cranial signs: cephalocele, holoprosencephaly, banana cerebellum (anencephaly has its own
module, :mod:`phantoms.anencephaly`).

Same object frame as :mod:`phantoms.head` (front = +u). ``size`` is a ``HeadSize``.
"""

from __future__ import annotations

import numpy as np

from phantoms import echo
from phantoms.shapes import (
    Canvas,
    ObjectFrame,
    band,
    circle_distance,
    ellipse_distance,
    inside,
    segment_distance,
)
from phantoms.traits import TRANS_THALAMIC, TRANS_VENTRICULAR, Traits


def _defect_direction(traits: Traits) -> float:
    """Angle (rad, from +u) of the centre of the occipital bone defect."""
    return np.pi + np.radians(traits.cele_offset_deg)


def defect_mask(frame: ObjectFrame, traits: Traits, size) -> np.ndarray:
    """1 where the calvarium is missing (soft over ~3 degrees)."""
    theta = np.arctan2(frame.v / size.b, frame.u / size.a)
    off = np.angle(np.exp(1j * (theta - _defect_direction(traits))))
    return np.clip((np.radians(traits.cele_defect_deg) - np.abs(off)) / np.radians(3.0) + 0.5, 0, 1)


def paint_cephalocele(canvas: Canvas, frame: ObjectFrame, traits: Traits, size) -> None:
    """A round sac through the occipital defect: brain inside (encephalocele) or fluid only."""
    direction = _defect_direction(traits)
    edge_u, edge_v = size.a * np.cos(direction), size.b * np.sin(direction)
    radius = traits.cele_radius * size.b
    outward = np.array([edge_u / size.a**2, edge_v / size.b**2])
    outward /= np.linalg.norm(outward)
    cu, cv = edge_u + outward[0] * radius * 0.8, edge_v + outward[1] * radius * 0.8
    sac = circle_distance(frame.u, frame.v, cu, cv, radius)
    neck = segment_distance(frame.u, frame.v, (0.75 * edge_u, 0.75 * edge_v), (cu, cv))
    neck_width = radius * 0.55
    canvas.paint(inside(np.minimum(sac, neck - neck_width) - 0.8, frame.edge_mm), echo.SOFT)
    content = echo.BRAIN * 1.1 if traits.cele_brain else echo.FLUID
    canvas.paint(
        inside(np.minimum(sac, neck - neck_width), frame.edge_mm), content, traits.cele_brain
    )
    if traits.cele_brain:
        # Gyral echoes inside herniated brain.
        for k in range(3):
            ring = circle_distance(frame.u, frame.v, cu, cv, radius * (0.3 + 0.2 * k))
            canvas.add(
                band(ring, 0.25, frame.edge_mm) * inside(sac, frame.edge_mm), echo.MEMBRANE * 0.5
            )
    else:
        canvas.add(band(sac + 0.4, 0.3, frame.edge_mm), echo.MEMBRANE)


def paint_holoprosencephaly(canvas, frame, traits: Traits, plane: str, size) -> None:
    """Single crescent monoventricle, fused thalami, no falx and no CSP."""
    a, b, edge = size.a, size.b, frame.edge_mm
    big = 1.0 if traits.hpe_alobar else 0.75
    if plane == TRANS_VENTRICULAR:
        big *= 1.1
    outer = ellipse_distance(frame.u, frame.v, 0.05 * a, 0.0, 0.8 * a * big, 0.8 * b * big)
    cut = ellipse_distance(frame.u, frame.v, -0.45 * a, 0.0, 0.66 * a, 0.62 * b * big)
    crescent = np.maximum(outer, -cut)
    canvas.paint(inside(crescent, edge) * (frame.u > -0.75 * a), echo.FLUID, textured=False)
    if not traits.hpe_alobar:
        # Semilobar: the back of the interhemispheric fissure has formed.
        back = segment_distance(frame.u, frame.v, (-0.94 * a, 0.0), (-0.5 * a, 0.0))
        canvas.paint(band(back, 0.25, edge), echo.FALX, textured=False)
    fused = ellipse_distance(frame.u, frame.v, -0.22 * a, 0.0, 0.22 * a, 0.3 * b)
    thalami = echo.THALAMUS if plane == TRANS_THALAMIC else echo.THALAMUS * 1.3
    canvas.paint(inside(fused, edge), thalami)


def paint_banana_cerebellum(canvas, frame, size) -> None:
    """Chiari II: cerebellum curved around the brainstem, cisterna magna effaced."""
    a, b, edge = size.a, size.b, frame.edge_mm
    midline = segment_distance(frame.u, frame.v, (0.2 * a, 0.0), (0.94 * a, 0.0))
    canvas.paint(band(midline, 0.25, edge), echo.FALX, textured=False)
    for side in (-1.0, 1.0):
        d = ellipse_distance(frame.u, frame.v, -0.14 * a, side * 0.08 * b, 0.14 * a, 0.1 * b)
        canvas.paint(inside(d, edge), echo.THALAMUS)
    # A crescent (thick at the back, tapering laterally) pressed against the occipital bone:
    # no fluid behind it.
    radius = 0.36 * b
    cu = -a + size.skull / 2 + 0.3 + radius
    outer = circle_distance(frame.u, frame.v, cu, 0.0, radius)
    inner = circle_distance(frame.u, frame.v, cu + 0.14 * b, 0.0, radius * 0.98)
    banana = np.maximum(outer, -inner)
    canvas.paint(inside(banana - 0.4, edge), echo.CEREBELLUM_RIM)
    canvas.paint(inside(banana, edge), echo.BRAIN * 0.8)
    brainstem = circle_distance(frame.u, frame.v, cu + 0.2 * b, 0.0, 0.14 * b)
    canvas.paint(inside(brainstem, edge), echo.THALAMUS)
