"""Simulated acquisition sites: scanner look, sector geometry and burned-in text layout.

Every site is a fixed, made-up hospital with its own scanner. Sites differ in what varies
between real centres (gain, dynamic range, speckle grain, fan shape, depth habits, text layout)
so that a model trained on phantoms meets a site shift, as it would on multi-centre data.
Nothing about a site depends on the class: the layout is the same for every patient.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Depth settings offered by the simulated scanners (cm), as on a real depth knob.
DEPTH_PRESETS_CM: tuple[float, ...] = (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20)


@dataclass(frozen=True)
class TextLayout:
    """Where a site's scanner burns in its annotations (fractions of the image size).

    ``header`` is a list of (x, y) anchors for the header lines, ``params`` the anchor of the
    acquisition-parameter column, ``readout`` the anchor of the measurement readout.
    """

    header: tuple[tuple[float, float], ...]
    header_align_right: tuple[bool, ...]
    params: tuple[float, float]
    readout: tuple[float, float]
    date_format: str  # strftime pattern
    grey_bar: bool  # a vertical grey-scale ramp beside the image
    font_scale: float  # relative to a 256 px high image
    text_level: int  # grey level of the text


@dataclass(frozen=True)
class Site:
    """One simulated centre: scanner settings, sector geometry and text layout."""

    name: str
    hospital: str
    scanner: str
    probe: str
    frequency_mhz: float
    # look
    gain_db: float  # echo level shown as white; higher = darker image
    dynamic_range_db: float  # log-compression window
    gamma: float  # display curve applied after log compression
    speckle_axial: float  # speckle correlation length along the beam (px at 256 px high)
    speckle_lateral: float  # across the beam (px at 256 px high)
    noise_floor: float  # electronic noise amplitude (relative to bone echo)
    smoothing: float  # speckle reduction (px at 256 px high)
    # sector geometry (fractions of image height/width; angles in degrees)
    face_y: float  # y of the probe face at the centre of the fan
    apex_depth: float  # distance from the virtual apex to the probe face (convex radius)
    apex_x: float  # x of the apex
    half_angle_deg: float
    bottom_y: float  # lowest y the fan may reach
    zoom: float  # how much room around the target the sonographers leave (depth / target)
    calipers_probability: float
    layout: TextLayout


_LAYOUT_CORNERS = TextLayout(
    header=((0.02, 0.045), (0.02, 0.095), (0.98, 0.045), (0.98, 0.095)),
    header_align_right=(False, False, True, True),
    params=(0.015, 0.30),
    readout=(0.015, 0.90),
    date_format="%d/%m/%Y",
    grey_bar=True,
    font_scale=0.62,
    text_level=225,
)

_LAYOUT_BANNER = TextLayout(
    header=((0.5, 0.05), (0.02, 0.105), (0.98, 0.105)),
    header_align_right=(False, False, True),
    params=(0.985, 0.40),
    readout=(0.985, 0.92),
    date_format="%Y-%m-%d",
    grey_bar=False,
    font_scale=0.58,
    text_level=205,
)

_LAYOUT_LEFT_COLUMN = TextLayout(
    header=((0.015, 0.05), (0.015, 0.10), (0.015, 0.15)),
    header_align_right=(False, False, False),
    params=(0.015, 0.42),
    readout=(0.985, 0.94),
    date_format="%m/%d/%Y",
    grey_bar=True,
    font_scale=0.55,
    text_level=240,
)

_LAYOUT_FOOTER = TextLayout(
    header=((0.98, 0.05), (0.98, 0.10), (0.02, 0.965), (0.98, 0.965)),
    header_align_right=(True, True, False, True),
    params=(0.015, 0.08),
    readout=(0.015, 0.80),
    date_format="%d.%m.%Y",
    grey_bar=False,
    font_scale=0.6,
    text_level=190,
)

SITES: tuple[Site, ...] = (
    Site(
        name="site-a",
        hospital="Northvale Women's Hospital",
        scanner="Veltra U5",
        probe="C1-6",
        frequency_mhz=3.5,
        gain_db=0.0,
        dynamic_range_db=60.0,
        gamma=1.0,
        speckle_axial=0.75,
        speckle_lateral=1.6,
        noise_floor=0.0003,
        smoothing=0.6,
        face_y=0.12,
        apex_depth=0.3,
        apex_x=0.5,
        half_angle_deg=30.0,
        bottom_y=0.97,
        zoom=1.1,
        calipers_probability=0.35,
        layout=_LAYOUT_CORNERS,
    ),
    Site(
        name="site-b",
        hospital="Kestrel Bay Perinatal Centre",
        scanner="Echomorph 7",
        probe="AB2-7",
        frequency_mhz=4.0,
        gain_db=1.0,
        dynamic_range_db=52.0,
        gamma=0.85,
        speckle_axial=1.2,
        speckle_lateral=2.6,
        noise_floor=0.0005,
        smoothing=0.9,
        face_y=0.14,
        apex_depth=0.2,
        apex_x=0.5,
        half_angle_deg=34.0,
        bottom_y=0.96,
        zoom=1.0,
        calipers_probability=0.5,
        layout=_LAYOUT_BANNER,
    ),
    Site(
        name="site-c",
        hospital="St. Aldric Maternity",
        scanner="Orison C2",
        probe="C2-9",
        frequency_mhz=5.0,
        gain_db=3.0,
        dynamic_range_db=66.0,
        gamma=1.25,
        speckle_axial=0.55,
        speckle_lateral=1.2,
        noise_floor=0.0002,
        smoothing=0.4,
        face_y=0.08,
        apex_depth=0.5,
        apex_x=0.52,
        half_angle_deg=22.0,
        bottom_y=0.98,
        zoom=1.2,
        calipers_probability=0.25,
        layout=_LAYOUT_LEFT_COLUMN,
    ),
    Site(
        name="site-d",
        hospital="Hollin University Clinic",
        scanner="Phantasonic X3",
        probe="3C-A",
        frequency_mhz=3.0,
        gain_db=1.5,
        dynamic_range_db=56.0,
        gamma=1.1,
        speckle_axial=0.95,
        speckle_lateral=2.0,
        noise_floor=0.0004,
        smoothing=0.7,
        face_y=0.15,
        apex_depth=0.25,
        apex_x=0.5,
        half_angle_deg=28.0,
        bottom_y=0.9,
        zoom=1.05,
        calipers_probability=0.4,
        layout=_LAYOUT_FOOTER,
    ),
)

SITE_NAMES: tuple[str, ...] = tuple(s.name for s in SITES)


def get_site(site: str | Site) -> Site:
    """The site called ``site`` (a :class:`Site` is returned unchanged)."""
    if isinstance(site, Site):
        return site
    for candidate in SITES:
        if candidate.name == site:
            return candidate
    raise ValueError(f"unknown phantom site {site!r}; known: {', '.join(SITE_NAMES)}")


def choose_depth_cm(target_mm: float, site: Site, wall_mm: float, slack: float) -> float:
    """The smallest depth preset that shows the target with the site's usual room around it."""
    needed_cm = (wall_mm + target_mm * site.zoom * slack) / 10.0
    for preset in DEPTH_PRESETS_CM:
        if preset >= needed_cm:
            return float(preset)
    return float(DEPTH_PRESETS_CM[-1])
