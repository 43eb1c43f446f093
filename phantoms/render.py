"""Render one phantom image (or a short cine) from a fetus, a view and a site."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from phantoms.annotate import (
    Caliper,
    DrawnText,
    HeaderInfo,
    draw_caliper,
    draw_header,
    draw_scanner_marks,
    parameter_lines,
)
from phantoms.bmode import ScannerSettings, ScatterNoise, envelope, log_compress
from phantoms.geometry import Sector, beam_grid, make_sector, mm_to_pixel, scan_convert
from phantoms.head import head_size
from phantoms.names import made_up_name
from phantoms.scene import View, moved, paint_scene, sample_view
from phantoms.sites import Site, get_site
from phantoms.spine import spine_shape
from phantoms.traits import PLANES, SPINE_SAGITTAL, Traits, anomaly_visible, draw_traits

DEFAULT_SIZE: tuple[int, int] = (320, 256)
MIN_SIZE: tuple[int, int] = (96, 80)
CINE_FRAME_CORRELATION = 0.75


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(size[0]), int(size[1]))
    if width < MIN_SIZE[0] or height < MIN_SIZE[1] or width > 4096 or height > 4096:
        raise ValueError(
            f"image size {width}x{height} out of range ({MIN_SIZE[0]}x{MIN_SIZE[1]} to 4096x4096)"
        )
    return width, height


def draw_header_info(
    rng: np.random.Generator, ga_weeks: float, patient_id: str | None = None
) -> HeaderInfo:
    """A made-up patient and exam date/time (fixed by ``rng``, never the clock)."""
    family, given = made_up_name(rng)
    date = dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 730)))
    seconds = int(rng.integers(8 * 3600, 18 * 3600))
    time = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    pid = patient_id if patient_id is not None else f"PH{int(rng.integers(0, 10**6)):06d}"
    return HeaderInfo(family, given, pid, date, time, float(ga_weeks))


def _object_to_pixel(view: View, sector: Sector, u: float, v: float) -> tuple[float, float]:
    """Inverse of the object frame: object mm -> image pixel."""
    if view.flip:
        u = -u
    c, s = math.cos(view.angle), math.sin(view.angle)
    x = view.centre[0] + (u * c - v * s) * view.scale
    y = view.centre[1] + (u * s + v * c) * view.scale
    return mm_to_pixel(sector, x, y)


def _caliper(traits: Traits, view: View, sector: Sector) -> Caliper:
    """BPD (outer to inner table) on head planes; a segment length along the spine."""
    if view.plane == SPINE_SAGITTAL:
        shape = spine_shape(traits, np.random.default_rng([traits.shape_seed, 7]))
        u0, u1 = shape.tip - 10.0 * shape.pitch, shape.tip - 4.0 * shape.pitch
        start, end, name = (u0, 0.0), (u1, 0.0), "L"
    else:
        size = head_size(traits)
        reach = 0.8 * size.b if traits.label == "anencephaly" else size.b
        u = 0.3 * size.a if traits.label == "anencephaly" else -0.05 * size.a
        start, end, name = (u, -reach - size.skull / 2), (u, reach - size.skull / 2), "BPD"
    length = math.dist(start, end) * view.scale
    return Caliper(
        _object_to_pixel(view, sector, *start), _object_to_pixel(view, sector, *end), name, length
    )


def render_frames(
    traits: Traits,
    view: View,
    site: Site,
    size: tuple[int, int],
    header: HeaderInfo,
    n_frames: int = 1,
) -> list[np.ndarray]:
    """Grey uint8 frames (H x W) of one acquisition; more than one frame makes a cine."""
    return render_frames_and_text(traits, view, site, size, header, n_frames)[0]


def render_frames_and_text(
    traits: Traits,
    view: View,
    site: Site,
    size: tuple[int, int],
    header: HeaderInfo,
    n_frames: int = 1,
) -> tuple[list[np.ndarray], list[list[DrawnText]]]:
    """``render_frames`` plus, per frame, the text lines drawn and where (the ground truth of
    the burned-in-text benchmark, bench/burned_text.py)."""
    sector = make_sector(site, size, view.depth_mm)
    grid = beam_grid(sector)
    settings = ScannerSettings(
        gain_db=site.gain_db + view.gain_jitter_db,
        dynamic_range_db=site.dynamic_range_db + view.dynamic_range_jitter_db,
        gamma=site.gamma,
        smoothing=site.smoothing * size[1] / 256.0,
    )
    params = parameter_lines(site, view.depth_mm, settings.gain_db, settings.dynamic_range_db)
    noise_rng = np.random.default_rng(view.noise_seed)
    noise = ScatterNoise.draw(grid.shape, noise_rng)
    frames, texts = [], []
    for index in range(n_frames):
        frame_view = moved(view, index)
        if index:
            noise = noise.evolve(noise_rng, CINE_FRAME_CORRELATION)
        canvas = paint_scene(grid, sector, frame_view, traits)
        polar = log_compress(envelope(canvas, grid, site, noise, size[1]), settings)
        image = (scan_convert(polar, sector) * 255.0 + 0.5).astype(np.uint8)
        draw_scanner_marks(image, site, sector, focus_mm=frame_view.centre[1])
        drawn = draw_header(image, site, header, params)
        if view.calipers:
            drawn.append(draw_caliper(image, site, _caliper(traits, frame_view, sector)))
        frames.append(image)
        texts.append(drawn)
    return frames, texts


def render_image(
    cls: str,
    plane: str,
    ga_weeks: float,
    site: str | Site,
    rng: np.random.Generator,
    size: tuple[int, int] = DEFAULT_SIZE,
) -> tuple[np.ndarray, bool]:
    """One phantom image of a fetus of class ``cls``: (grey uint8 H x W, anomaly visible).

    The header and the acquisition are drawn from ``rng`` before the anatomy, so the same
    ``rng`` state gives the same header, pose and settings whatever the class.
    """
    if plane not in PLANES:
        raise ValueError(f"unknown plane {plane!r}; known: {', '.join(PLANES)}")
    site = get_site(site)
    size = check_size(size)
    header = draw_header_info(rng, ga_weeks)
    view = sample_view(plane, ga_weeks, site, size, rng)
    traits = draw_traits(cls, ga_weeks, np.random.default_rng(rng.integers(0, 2**63 - 1)))
    image = render_frames(traits, view, site, size, header)[0]
    return image, anomaly_visible(traits, plane)
