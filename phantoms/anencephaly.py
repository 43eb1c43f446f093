"""Anencephaly: no calvarium above the orbits, exposed and disorganised brain tissue.

Same object frame as :mod:`phantoms.head` (front = +u, mm). The standard head planes cannot
be obtained, so each plane shows what the sonographer gets at that level: the highest only the
floating, lobulated tissue (exencephaly, less of it later in pregnancy); the thalamic level the
orbits and skull base under that tissue; the lowest the face with bulging orbits and nothing
above them ('frog eyes').
"""

from __future__ import annotations

import numpy as np

from phantoms import echo
from phantoms.shapes import (
    band,
    circle_distance,
    ellipse_distance,
    ellipse_distance_normal,
    inside,
    segment_distance,
    specular,
)
from phantoms.traits import HEAD_PLANES, Traits


def _shape_rng(traits: Traits, plane: str) -> np.random.Generator:
    """Randomness of irregular shapes: fixed per fetus and plane, so cines stay coherent."""
    return np.random.default_rng([traits.shape_seed, HEAD_PLANES.index(plane)])


def _bone(canvas, frame, mask, ossification, normal=None) -> None:
    """Thin facial / skull-base bone: bright where it faces the beam, shadowing behind."""
    shine = 0.6 if normal is None else specular(normal[0], normal[1], frame, floor=0.2)
    level = echo.BONE * (0.1 + 0.3 * ossification) * shine
    canvas.paint_bone(mask, level, echo.BONE_ATTENUATION * ossification)


def _lobulated_distance(frame, cu, cv, a, b, rng, roughness):
    """Distance to an ellipse whose radius wobbles with a few random harmonics (irregular mass)."""
    theta = np.arctan2((frame.v - cv) / b, (frame.u - cu) / a)
    wobble = np.ones_like(theta)
    for k in range(2, 7):
        wobble += roughness / k * rng.uniform(0.4, 1.0) * np.cos(k * theta + rng.uniform(0, 6.3))
    d = ellipse_distance(cu + (frame.u - cu) / wobble, cv + (frame.v - cv) / wobble, cu, cv, a, b)
    return d * wobble


def _arc(frame, centre, radii, angles_deg, half_width, edge, rng):
    """A curved bony band along part of an ellipse, with irregular thickness; and its normal."""
    d, nu, nv = ellipse_distance_normal(frame.u, frame.v, centre[0], centre[1], radii[0], radii[1])
    theta = np.degrees(
        np.arctan2((frame.v - centre[1]) / radii[1], (frame.u - centre[0]) / radii[0])
    )
    lo, hi = angles_deg
    within = np.clip(np.minimum(theta - lo, hi - theta) / 4.0, 0.0, 1.0)
    lumpy = 1.0 + 0.35 * np.cos(np.radians(theta) * 5 + rng.uniform(0, 6.3))
    return band(d, half_width * lumpy, edge) * within, (nu, nv)


def paint_anencephalic_head(canvas, frame, traits: Traits, plane: str, size) -> None:
    """Paint what each head plane shows in anencephaly (see the module docstring)."""
    rng = _shape_rng(traits, plane)
    level = HEAD_PLANES.index(plane)  # 0 = highest (ventricular), 2 = lowest (cerebellar)
    if level == 2:
        _paint_frog_eye_face(canvas, frame, traits, size, rng)
        return
    a, b = size.a, size.b
    if level == 1:
        face = _lobulated_distance(frame, 0.3 * a, 0.0, 0.62 * a, 0.8 * b, rng, 0.12)
        canvas.paint(inside(face - 0.8, frame.edge_mm), echo.SOFT)
        canvas.paint(inside(face, frame.edge_mm), echo.BRAIN * 1.3)
    _paint_exencephaly(
        canvas, frame, size, rng, traits.exencephaly * (1.1 - 0.3 * level), (-0.15 * a, 0.0)
    )
    if level == 1:
        _paint_skull_base(canvas, frame, size, rng)
        _paint_orbits(canvas, frame, size, (0.56 * a, 0.36 * b), 0.2 * b)


def _paint_exencephaly(canvas, frame, size, rng, scale: float, centre) -> None:
    """Lobulated, heterogeneous tissue with cystic spaces and no bony cover."""
    if scale <= 0.05:
        return
    a, b, edge = size.a * scale, size.b * scale, frame.edge_mm
    mass = _lobulated_distance(frame, centre[0], centre[1], 0.85 * a, 0.9 * b, rng, 0.45)
    canvas.paint(inside(mass - 0.6, edge), echo.MEMBRANE * 0.5)
    canvas.paint(inside(mass, edge), echo.BRAIN * 1.8)
    _paint_cysts(canvas, frame, rng, centre, (0.6 * a, 0.6 * b))
    for _ in range(3):  # streaky echoes of the angiomatous stroma
        p0 = (centre[0] + rng.uniform(-0.6, 0.6) * a, centre[1] + rng.uniform(-0.6, 0.6) * b)
        p1 = (p0[0] + rng.uniform(-0.4, 0.4) * a, p0[1] + rng.uniform(-0.4, 0.4) * b)
        streak = band(segment_distance(frame.u, frame.v, p0, p1), 0.3, edge)
        canvas.add(streak * inside(mass, edge), echo.MEMBRANE * 0.5)


def _paint_cysts(canvas, frame, rng, centre, spread) -> None:
    for _ in range(int(rng.integers(2, 6))):
        cu = centre[0] + rng.uniform(-1, 1) * spread[0]
        cv = centre[1] + rng.uniform(-1, 1) * spread[1]
        r = rng.uniform(0.08, 0.22) * min(spread)
        canvas.paint(
            inside(circle_distance(frame.u, frame.v, cu, cv, r), frame.edge_mm), echo.FLUID
        )


def _paint_skull_base(canvas, frame, size, rng) -> None:
    """Curved bright bands of the skull base behind the orbits (sphenoid, petrous bones)."""
    a, b, edge = size.a, size.b, frame.edge_mm
    half = max(size.skull * 0.5, edge)
    back, normal = _arc(frame, (0.05 * a, 0.0), (0.55 * a, 0.72 * b), (125, 235), half, edge, rng)
    _bone(canvas, frame, back, size.ossification, normal)
    # theta is measured from +u; the other arc wraps through 180 degrees, so draw both halves.
    back2, normal2 = _arc(
        frame, (0.05 * a, 0.0), (0.55 * a, 0.72 * b), (-235, -125), half, edge, rng
    )
    _bone(canvas, frame, back2, size.ossification, normal2)
    for side in (-1.0, 1.0):
        lo, hi = (20, 80) if side > 0 else (-80, -20)
        wing, normal = _arc(
            frame, (-0.35 * a, 0.0), (0.45 * a, 0.55 * b), (lo, hi), half * 0.8, edge, rng
        )
        _bone(canvas, frame, wing, size.ossification * 0.8, normal)


def _paint_orbits(canvas, frame, size, centre, radius) -> None:
    """Two orbits: anechoic globes with a bright lens and thin bony rims."""
    edge = frame.edge_mm
    for side in (-1.0, 1.0):
        cu, cv = centre[0], side * centre[1]
        d = circle_distance(frame.u, frame.v, cu, cv, radius)
        canvas.paint(inside(d, edge), echo.FLUID, textured=False)
        rim, nu, nv = ellipse_distance_normal(frame.u, frame.v, cu, cv, radius + 0.5, radius + 0.5)
        _bone(canvas, frame, band(rim, max(0.4, edge), edge), size.ossification * 0.6, (nu, nv))
        lens = circle_distance(frame.u, frame.v, cu + 0.55 * radius, cv, 0.2 * radius)
        canvas.paint(band(lens, 0.3, edge), echo.MEMBRANE, textured=False)


def _paint_frog_eye_face(canvas, frame, traits: Traits, size, rng) -> None:
    """Face from the front (+u = cranial): bulging orbits on top, no forehead, no vault."""
    a, b, edge = size.a, size.b, frame.edge_mm
    face = ellipse_distance(frame.u, frame.v, -0.25 * a, 0.0, 0.55 * a, 0.8 * b)
    top = frame.u - (0.05 * a + 0.05 * a * np.cos(3.0 * frame.v / b + rng.uniform(0, 6.3)))
    face = np.maximum(face, top)  # flat, irregular top where the forehead and vault should be
    canvas.paint(inside(face - 0.8, edge), echo.SOFT)
    canvas.paint(inside(face, edge), echo.BRAIN * 1.3)
    _paint_exencephaly(canvas, frame, size, rng, traits.exencephaly * 0.45, (0.3 * a, 0.0))
    # Orbits sit high and bulge above the face outline.
    _paint_orbits(canvas, frame, size, (0.02 * a, 0.38 * b), 0.25 * b)
    nose = circle_distance(frame.u, frame.v, -0.3 * a, 0.0, 0.06 * b)
    _bone(canvas, frame, inside(nose, edge), size.ossification * 0.8)
    half = max(0.45, edge)
    maxilla, normal = _arc(
        frame, (-0.3 * a, 0.0), (0.32 * a, 0.5 * b), (-160, -100), half, edge, rng
    )
    _bone(canvas, frame, maxilla, size.ossification, normal)
    maxilla, normal = _arc(frame, (-0.3 * a, 0.0), (0.32 * a, 0.5 * b), (100, 160), half, edge, rng)
    _bone(canvas, frame, maxilla, size.ossification, normal)
    mandible, normal = _arc(
        frame, (-0.45 * a, 0.0), (0.32 * a, 0.55 * b), (130, 230), half, edge, rng
    )
    _bone(canvas, frame, mandible, size.ossification, normal)
    mandible, normal = _arc(
        frame, (-0.45 * a, 0.0), (0.32 * a, 0.55 * b), (-230, -130), half, edge, rng
    )
    _bone(canvas, frame, mandible, size.ossification, normal)
    mouth = segment_distance(frame.u, frame.v, (-0.6 * a, -0.14 * b), (-0.6 * a, 0.14 * b))
    canvas.paint(band(mouth, 0.4, edge), echo.FLUID)
