"""Sagittal spine plane: two rows of ossification centres converging at the sacrum, skin line,
and in rachischisis the open posterior defect with splayed posterior elements and a sac.

Object frame: ``u`` along the spine (cranial = -u, sacrum tip at u = +tip), ``v`` across it
with the back (skin) at negative ``v``, in mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phantoms import echo, growth
from phantoms.shapes import (
    Canvas,
    ObjectFrame,
    band,
    circle_distance,
    ellipse_distance,
    inside,
    segment_distance,
)
from phantoms.traits import Traits

N_VERTEBRAE = 26  # from the sacral tip upwards; more than ever fit in the image
SACRAL = 5


@dataclass(frozen=True)
class SpineShape:
    pitch: float  # mm between lumbar ossification centres
    tip: float  # u of the sacral tip
    curve: float  # bend of the spine (mm of sagitta over 10 pitches)
    half_gap: float  # half the distance between the two rows, in lumbar segments
    back_tissue: float  # mm from the posterior row to the skin
    body_depth: float  # mm from the anterior row to the front of the trunk
    ossification: float


def spine_shape(traits: Traits, rng: np.random.Generator) -> SpineShape:
    pitch = growth.vertebra_pitch_mm(traits.ga_weeks) * traits.head_scale
    return SpineShape(
        pitch=pitch,
        tip=pitch * float(rng.uniform(2.0, 4.0)),
        curve=pitch * float(rng.uniform(-1.5, 1.5)),
        half_gap=0.8 * pitch,
        back_tissue=0.55 * pitch + 0.8,
        body_depth=pitch * float(rng.uniform(4.5, 6.5)),
        ossification=growth.ossification(traits.ga_weeks + 2.0),
    )


def _axis(shape: SpineShape, u):
    """v of the spinal canal's centre line at ``u`` (a gentle bend)."""
    return shape.curve * ((u - shape.tip) / (10.0 * shape.pitch)) ** 2


def _half_gap(shape: SpineShape, k):
    """Half distance between the rows at vertebra ``k`` (0 = sacral tip): the rows converge."""
    taper = np.clip(k / (SACRAL + 1.0), 0.25, 1.0)
    return shape.half_gap * taper


def _level_positions(shape: SpineShape) -> np.ndarray:
    """u of each vertebral level, k = 0 at the sacral tip; sacral segments are shorter."""
    steps = np.where(np.arange(N_VERTEBRAE) < SACRAL, 0.72, 1.0) * shape.pitch
    return shape.tip - np.concatenate([[0.0], np.cumsum(steps[:-1])])


def _nearest_level(shape: SpineShape, levels: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the level nearest to each ``u`` (levels are evenly spaced within two runs)."""
    sacral = (shape.tip - u) / (0.72 * shape.pitch)
    lumbar = SACRAL + (levels[SACRAL] - u) / shape.pitch
    index = np.where(u > levels[SACRAL] - 0.5 * shape.pitch, sacral, lumbar)
    return np.clip(np.rint(index), 0, N_VERTEBRAE - 1).astype(np.intp)


def _defect_levels(traits: Traits) -> range:
    if traits.label != "rachischisis" or traits.defect_vertebrae <= 0:
        return range(0)
    first = 1 + int(round(traits.defect_position * 5))
    return range(first, first + traits.defect_vertebrae)


def paint_spine(
    canvas: Canvas, frame: ObjectFrame, traits: Traits, rng: np.random.Generator
) -> None:
    """Paint the fetal trunk in a sagittal section through the spine."""
    shape = spine_shape(traits, np.random.default_rng([traits.shape_seed, 7]))
    defect = _defect_levels(traits)
    levels = _level_positions(shape)
    defect_u = [float(levels[k]) for k in defect]
    _paint_trunk(canvas, frame, shape)
    _paint_canal(canvas, frame, shape)
    _paint_skin(canvas, frame, shape, defect_u)
    if defect_u:
        _paint_open_defect(canvas, frame, shape, traits, defect_u)
    _paint_ossification_centres(canvas, frame, shape, levels, defect, rng)


def _trunk_distance(frame, shape):
    """Signed distance to the trunk outline (a bent slab with a rounded caudal end), and v
    relative to the spinal axis."""
    dv = frame.v - _axis(shape, frame.u)
    back = shape.half_gap + shape.back_tissue
    front = shape.half_gap + shape.body_depth
    slab = np.maximum(-dv - back, dv - front)
    mid, half = (front - back) / 2, (front + back) / 2
    end_u = shape.tip + 1.5 * shape.pitch
    cap = ellipse_distance(frame.u, dv, end_u - half, mid, half, half)
    return np.where(frame.u > end_u - half, cap, slab), dv


def _paint_trunk(canvas, frame, shape) -> None:
    trunk, dv = _trunk_distance(frame, shape)
    back = shape.half_gap + shape.back_tissue
    front = shape.half_gap + shape.body_depth
    half = (front + back) / 2
    canvas.paint(inside(trunk, frame.edge_mm), echo.SOFT * 0.75)
    # Abdominal organs: a fluid-filled bladder near the pelvis, hypoechoic bowel/kidney.
    bladder = circle_distance(
        frame.u, dv, shape.tip - 2.0 * shape.pitch, front - 0.45 * half, 0.28 * half
    )
    canvas.paint(inside(bladder, frame.edge_mm), echo.FLUID, textured=False)
    kidney = ellipse_distance(
        frame.u,
        dv,
        shape.tip - 8.0 * shape.pitch,
        shape.half_gap + 0.45 * shape.body_depth,
        2.2 * shape.pitch,
        0.22 * shape.body_depth,
    )
    canvas.paint(inside(kidney, frame.edge_mm), echo.SOFT * 0.45)


def _paint_canal(canvas, frame, shape) -> None:
    """Spinal canal (fluid) with the cord ending at the conus around L2."""
    dv = frame.v - _axis(shape, frame.u)
    k_of_u = np.clip((shape.tip - frame.u) / shape.pitch, 0.0, None)
    gap = _half_gap(shape, k_of_u * 1.15)
    canal = inside(np.abs(dv) - 0.55 * gap, frame.edge_mm) * (frame.u < shape.tip)
    canvas.paint(canal, echo.FLUID, textured=False)
    conus_u = shape.tip - 9.5 * shape.pitch
    cord = inside(np.abs(dv) - 0.28 * shape.half_gap, frame.edge_mm) * (frame.u < conus_u)
    canvas.paint(cord, echo.BRAIN)
    filum = band(dv, 0.2, frame.edge_mm) * (frame.u < shape.tip - 2 * shape.pitch)
    canvas.add(filum * 0.6, echo.MEMBRANE)


def _paint_skin(canvas, frame, shape, defect_u) -> None:
    trunk, dv = _trunk_distance(frame, shape)
    skin = band(trunk, 0.35, frame.edge_mm) * (dv < shape.half_gap)
    if defect_u:
        lo, hi = min(defect_u) - 0.7 * shape.pitch, max(defect_u) + 0.7 * shape.pitch
        skin = skin * ((frame.u < lo) | (frame.u > hi))
    canvas.paint(skin, echo.MEMBRANE * 1.4, textured=False)


def _paint_ossification_centres(canvas, frame, shape, levels, defect: range, rng) -> None:
    """Vertebral bodies (anterior row) and posterior elements (posterior row), all levels at once.

    Each sample is drawn against its nearest level, so the rows cost two ellipse evaluations.
    Over an open defect the posterior elements are splayed: displaced outward and fainter.
    """
    k = np.arange(N_VERTEBRAE)
    gap = _half_gap(shape, k)
    small = np.where(k < SACRAL, 0.7, 1.0) * shape.pitch
    axis_v = _axis(shape, levels)
    arch_shift_v = np.zeros(N_VERTEBRAE)
    arch_shift_u = np.zeros(N_VERTEBRAE)
    arch_strength = np.ones(N_VERTEBRAE)
    for level in defect:
        arch_shift_v[level] = -float(rng.uniform(0.4, 1.0)) * shape.half_gap
        arch_shift_u[level] = float(rng.uniform(-0.25, 0.25)) * shape.pitch
        arch_strength[level] = float(rng.uniform(0.35, 0.8))
    nearest = _nearest_level(shape, levels, frame.u)
    bright = echo.BONE * (0.4 + 0.6 * shape.ossification)
    attenuation = echo.BONE_ATTENUATION * shape.ossification
    body = ellipse_distance(
        frame.u,
        frame.v,
        levels[nearest],
        (axis_v + gap)[nearest],
        0.27 * small[nearest],
        0.3 * small[nearest],
    )
    canvas.paint_bone(inside(body, frame.edge_mm), bright, attenuation)
    arch = ellipse_distance(
        frame.u,
        frame.v,
        (levels + arch_shift_u)[nearest],
        (axis_v - gap + arch_shift_v)[nearest],
        0.22 * small[nearest],
        0.18 * small[nearest],
    )
    strength = arch_strength[nearest]
    canvas.paint_bone(inside(arch, frame.edge_mm), bright * strength, attenuation * strength)


def _paint_open_defect(canvas, frame, shape, traits: Traits, defect_u) -> None:
    """Myelomeningocele (fluid sac with neural strands) or myeloschisis (open, flat placode)."""
    centre_u = float(np.mean(defect_u))
    axis_v = float(_axis(shape, centre_u))
    back_v = axis_v - shape.half_gap - shape.back_tissue
    span = (max(defect_u) - min(defect_u)) / 2 + 0.5 * shape.pitch
    opening = np.maximum(np.abs(frame.u - centre_u) - span, np.abs(frame.v - (back_v + 0.5)) - 1.2)
    canvas.paint(inside(opening, frame.edge_mm), echo.FLUID, textured=False)
    if traits.sac:
        radius = traits.sac_radius * shape.pitch
        cv = back_v - radius * 0.65
        sac = circle_distance(frame.u, frame.v, centre_u, cv, radius)
        canvas.paint(inside(sac, frame.edge_mm), echo.FLUID, textured=False)
        canvas.paint(band(sac, 0.5, frame.edge_mm), echo.MEMBRANE * 2.0, textured=False)
        for offset in (-0.35, 0.0, 0.3):
            strand = segment_distance(
                frame.u,
                frame.v,
                (centre_u + offset * span, axis_v),
                (centre_u + offset * radius * 1.2, cv - radius * 0.4),
            )
            canvas.add(band(strand, 0.2, frame.edge_mm), echo.MEMBRANE * 0.8)
    else:
        placode = segment_distance(
            frame.u, frame.v, (centre_u - span, back_v + 1.0), (centre_u + span, back_v + 1.0)
        )
        canvas.paint(band(placode, 0.4, frame.edge_mm), echo.MEMBRANE, textured=False)
