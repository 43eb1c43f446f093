"""One acquisition: where the probe is, what surrounds the fetus, and painting it all.

``View`` holds everything random about an image that is NOT anatomy: depth setting, pose,
maternal wall, placenta, a nearby limb, knob turns, calipers. It is drawn from GA, plane and
site only, never from the class, so classes differ by anatomy alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from phantoms import echo, growth
from phantoms.geometry import BeamGrid, Sector, make_sector
from phantoms.head import paint_head
from phantoms.shapes import (
    Canvas,
    band,
    ellipse_distance,
    inside,
    object_frame,
    segment_distance,
)
from phantoms.sites import Site, choose_depth_cm
from phantoms.spine import paint_spine
from phantoms.traits import SPINE_SAGITTAL, Traits


@dataclass(frozen=True)
class View:
    """The non-anatomical randomness of one image (all lengths in mm)."""

    plane: str
    depth_mm: float
    centre: tuple[float, float]  # object centre, probe-face coordinates (x lateral, y depth)
    angle: float  # radians
    flip: bool
    scale: float  # pose scale jitter (probe pressure, slightly off-axis section)
    wall_mm: float  # maternal abdominal wall + myometrium
    far_wall_mm: float  # depth of the posterior uterine wall
    placenta: tuple[float, float] | None  # (start depth, thickness) or None
    limb: tuple[float, float, float] | None  # (x, y, angle) of a nearby limb, or None
    gain_jitter_db: float
    dynamic_range_jitter_db: float
    calipers: bool
    scene_seed: int  # texture and floating particles
    noise_seed: int  # scatterers


def target_extent_mm(plane: str, ga_weeks: float) -> float:
    """How much the sonographer wants in view: the head's OFD, or a lumbosacral segment."""
    if plane == SPINE_SAGITTAL:
        return 12.0 * growth.vertebra_pitch_mm(ga_weeks)
    return growth.ofd_mm(ga_weeks)


def sample_view(
    plane: str, ga_weeks: float, site: Site, size: tuple[int, int], rng: np.random.Generator
) -> View:
    """Random acquisition of ``plane`` at ``ga_weeks`` on ``site`` (independent of the class)."""
    extent = target_extent_mm(plane, ga_weeks)
    wall = float(rng.uniform(8.0, 22.0)) * (0.7 + 0.3 * ga_weeks / 40.0)
    depth = 10.0 * choose_depth_cm(extent, site, wall, float(rng.uniform(0.95, 1.25)))
    sector = make_sector(site, size, depth)
    half_extent = 0.5 * extent
    y_lo, y_hi = wall + half_extent * 0.8 + 3.0, depth - half_extent * 0.85
    y = float(rng.uniform(y_lo, y_hi)) if y_hi > y_lo else (y_lo + depth) / 2
    # Half-width of the fan at that depth, less half the target: room to move sideways.
    r0_mm = sector.r0 / sector.px_per_mm
    room = (r0_mm + y) * math.tan(sector.half_angle) - half_extent
    x_room = max(0.0, 0.6 * room)
    x = float(rng.uniform(-x_room, x_room))
    if plane == SPINE_SAGITTAL:
        angle = math.radians(float(rng.uniform(-18, 18))) + (math.pi if rng.random() < 0.2 else 0.0)
    else:
        angle = math.radians(float(rng.uniform(-28, 28)))
    placenta, limb = _sample_surroundings(rng, ga_weeks, wall, (x, y), extent)
    return View(
        plane=plane,
        depth_mm=depth,
        centre=(x, y),
        angle=angle,
        flip=bool(rng.random() < 0.5),
        scale=float(rng.uniform(0.93, 1.07)),
        wall_mm=wall,
        far_wall_mm=y + half_extent + float(rng.uniform(6.0, 35.0)),
        placenta=placenta,
        limb=limb,
        gain_jitter_db=float(rng.normal(0.0, 2.5)),
        dynamic_range_jitter_db=float(rng.normal(0.0, 3.0)),
        calipers=bool(rng.random() < site.calipers_probability),
        scene_seed=int(rng.integers(0, 2**31 - 1)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )


def _sample_surroundings(rng, ga_weeks: float, wall: float, centre, extent: float):
    """An anterior or posterior placenta (or none) and a limb next to the target (or none)."""
    x, y = centre
    placenta = None
    if rng.random() < 0.55:
        thickness = float(rng.uniform(12.0, 30.0)) * (0.5 + 0.5 * ga_weeks / 40.0)
        if rng.random() < 0.5:
            placenta = (wall, thickness)
        else:
            placenta = (y + 0.5 * extent + float(rng.uniform(4, 14)), thickness)
    limb = None
    if rng.random() < 0.5:
        side = rng.choice([-1.0, 1.0])
        limb = (
            x + side * float(rng.uniform(0.55, 0.8)) * extent,
            y + float(rng.uniform(-0.3, 0.3)) * extent,
            float(rng.uniform(0, math.pi)),
        )
    return placenta, limb


def moved(view: View, frame_index: int) -> View:
    """The same view ``frame_index`` frames later in a cine: a slow, steady probe drift."""
    if frame_index == 0:
        return view
    drift = np.random.default_rng([view.noise_seed, 0]).normal(0.0, 1.0, size=3)
    dx, dy = drift[:2] * 0.3 * frame_index  # mm per frame
    da = math.radians(float(drift[2]) * 0.5) * frame_index  # degrees per frame
    centre = (view.centre[0] + float(dx), view.centre[1] + float(dy))
    return replace(view, centre=centre, angle=view.angle + da)


def soft_texture(shape, rng: np.random.Generator, grain_samples: float) -> np.ndarray:
    """Smooth multiplicative tissue heterogeneity (mean ~1)."""
    field = rng.standard_normal(shape, dtype=np.float32)
    field = cv2.GaussianBlur(field, (0, 0), sigmaX=grain_samples, sigmaY=grain_samples * 1.3)
    field /= float(field.std()) + 1e-6
    return np.exp(0.28 * field).astype(np.float32)


def paint_scene(grid: BeamGrid, sector: Sector, view: View, traits: Traits) -> Canvas:
    """Echo amplitudes of everything in the fan for this view and fetus."""
    rng = np.random.default_rng(view.scene_seed)
    canvas = Canvas(grid.shape, echo.FLUID, soft_texture(grid.shape, rng, 2.0 / grid.mm_per_sample))
    edge = 0.5 / sector.px_per_mm
    _paint_maternal(canvas, grid, view, rng, edge)
    if view.limb is not None:
        _paint_limb(canvas, grid, view, traits, edge)
    frame = object_frame(
        grid.x,
        grid.y,
        grid.beam_x,
        grid.beam_y,
        view.centre,
        view.angle,
        view.flip,
        view.scale,
        edge,
    )
    if view.plane == SPINE_SAGITTAL:
        paint_spine(canvas, frame, traits, np.random.default_rng([view.scene_seed, 1]))
    else:
        paint_head(canvas, frame, traits, view.plane)
    _paint_particles(canvas, grid, rng)
    return canvas


def _paint_maternal(canvas, grid, view: View, rng, edge) -> None:
    """Abdominal wall layers under the probe, placenta, posterior uterine wall."""
    tilt = float(rng.normal(0.0, 0.06))
    d = grid.depth + tilt * grid.x
    wall = view.wall_mm
    fat_end = wall * float(rng.uniform(0.3, 0.55))
    muscle_end = wall * float(rng.uniform(0.6, 0.8))
    striation = 1.0 + 0.35 * np.sin(d * (2 * np.pi / 1.4))
    canvas.paint(inside(d - wall, edge), echo.SOFT * 0.8)
    canvas.paint(inside(d - muscle_end, edge) * striation, echo.SOFT)
    canvas.paint(inside(d - fat_end, edge), echo.SOFT * 0.45)
    for line_depth, strength in ((0.6, 1.6), (fat_end, 1.1), (muscle_end, 0.8)):
        canvas.paint(band(d - line_depth, 0.45, edge), echo.MEMBRANE * strength)
    if view.placenta is not None:
        start, thickness = view.placenta
        placenta = inside(np.abs(d - start - thickness / 2) - thickness / 2, edge)
        canvas.paint(placenta, echo.SOFT * 1.15)
        canvas.paint(band(d - start - thickness, 0.4, edge), echo.MEMBRANE * 0.9)
    far = inside(view.far_wall_mm - d - 0.2 * grid.x * tilt, edge)
    canvas.paint(far, echo.SOFT * 0.9)
    canvas.paint(band(d - view.far_wall_mm, 0.5, edge), echo.MEMBRANE * 1.2)


def _paint_limb(canvas, grid, view: View, traits: Traits, edge) -> None:
    """A fetal arm or leg next to the target: soft tissue around a shadowing long bone."""
    x, y, angle = view.limb
    length = 0.45 * target_extent_mm(view.plane, traits.ga_weeks)
    radius = 0.18 * length
    frame = object_frame(grid.x, grid.y, grid.beam_x, grid.beam_y, (x, y), angle, False, 1.0, edge)
    limb = ellipse_distance(frame.u, frame.v, 0.0, 0.0, length, radius)
    canvas.paint(inside(limb, edge), echo.SOFT)
    bone = segment_distance(frame.u, frame.v, (-0.75 * length, 0.0), (0.75 * length, 0.0))
    oss = growth.ossification(traits.ga_weeks + 3.0)
    canvas.paint_bone(
        band(bone, 0.12 * radius + edge, edge), 0.6 + 0.4 * oss, echo.BONE_ATTENUATION * oss
    )


def _paint_particles(canvas, grid, rng) -> None:
    """A few floating echoes (vernix) in the amniotic fluid: tiny bright spots."""
    n = int(rng.integers(0, 12))
    beams = rng.integers(0, grid.shape[0] - 1, n)
    samples = rng.integers(0, grid.shape[1] - 1, n)
    for beam, sample in zip(beams, samples, strict=True):
        patch = canvas.echo[beam : beam + 2, sample : sample + 2]
        if float(patch.max()) < 0.001:  # only in fluid
            patch += echo.MEMBRANE * 0.4
