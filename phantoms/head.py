"""Axial head planes: skull, brain and the landmarks of each standard plane.

Object frame: ``u`` along the occipito-frontal axis (front = +u), ``v`` left-right, in mm,
origin at the centre of the head. ``a``/``b`` are half the OFD and half the BPD.
Anomaly-specific drawing lives in :mod:`phantoms.head_anomalies`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phantoms import anencephaly, echo, growth
from phantoms import head_anomalies as anomalies
from phantoms.shapes import (
    Canvas,
    ObjectFrame,
    band,
    ellipse_distance,
    ellipse_distance_normal,
    inside,
    segment_distance,
    specular,
)
from phantoms.traits import TRANS_CEREBELLAR, TRANS_THALAMIC, TRANS_VENTRICULAR, Traits


@dataclass(frozen=True)
class HeadSize:
    a: float  # half occipito-frontal diameter (mm)
    b: float  # half biparietal diameter (mm)
    skull: float  # calvarium thickness (mm)
    ossification: float  # 0..1


def head_size(traits: Traits) -> HeadSize:
    b = growth.bpd_mm(traits.ga_weeks) / 2.0 * traits.head_scale
    a = b / (growth.CEPHALIC_INDEX * traits.cephalic_index_scale)
    return HeadSize(
        a=a,
        b=b,
        skull=growth.skull_thickness_mm(traits.ga_weeks),
        ossification=growth.ossification(traits.ga_weeks),
    )


def paint_head(canvas: Canvas, frame: ObjectFrame, traits: Traits, plane: str) -> None:
    """Paint the head of this fetus as seen in ``plane`` (one of the three axial planes)."""
    size = head_size(traits)
    if traits.label == "anencephaly":
        anencephaly.paint_anencephalic_head(canvas, frame, traits, plane, size)
        return
    defect = traits.label == "encephalocele" and plane in (TRANS_VENTRICULAR, TRANS_CEREBELLAR)
    skull_d, normal_u, normal_v = _skull_distance(frame, size, traits.lemon)
    _paint_skull(canvas, frame, size, skull_d, normal_u, normal_v, traits if defect else None)
    if traits.label == "holoprosencephaly" and plane != TRANS_CEREBELLAR:
        anomalies.paint_holoprosencephaly(canvas, frame, traits, plane, size)
    elif plane == TRANS_VENTRICULAR:
        _paint_ventricular_level(canvas, frame, size, traits.ventriculomegaly)
    elif plane == TRANS_THALAMIC:
        _paint_thalamic_level(canvas, frame, size)
    else:
        if traits.label == "rachischisis":
            anomalies.paint_banana_cerebellum(canvas, frame, size)
        else:
            paint_normal_cerebellum(canvas, frame, size)
    if defect:
        anomalies.paint_cephalocele(canvas, frame, traits, size)


def _skull_distance(frame: ObjectFrame, size: HeadSize, lemon: float):
    """Signed distance to the mid-line of the calvarium; ``lemon`` scallops the frontal bones."""
    u, v = frame.u, frame.v
    if lemon <= 0:
        return ellipse_distance_normal(u, v, 0.0, 0.0, size.a, size.b)
    theta = np.arctan2(v / size.b, u / size.a)
    centre, width = np.radians(50.0), np.radians(20.0)
    dent = np.exp(-(((np.abs(theta) - centre) / width) ** 2))
    shrink = 1.0 - lemon * dent * (u > -0.2 * size.a)
    dist, nu, nv = ellipse_distance_normal(u / shrink, v / shrink, 0.0, 0.0, size.a, size.b)
    return dist * shrink, nu, nv


def _paint_skull(canvas, frame, size, skull_d, normal_u, normal_v, cele: Traits | None) -> None:
    edge = frame.edge_mm
    half = max(size.skull / 2.0, edge)
    scalp = 0.8 + 0.05 * size.b
    canvas.paint(inside(skull_d - half - scalp, edge), echo.SOFT)
    brain = inside(skull_d, edge)
    canvas.paint(brain, echo.BRAIN)
    # Reverberation behind the near wall veils the hemisphere closest to the probe.
    toward_probe = -(frame.u * frame.beam_u + frame.v * frame.beam_v) / size.b
    canvas.add(brain * np.clip(toward_probe, 0.0, 1.0) ** 1.5, echo.BRAIN * 1.5)
    # Subarachnoid space: a thin fluid rim under the bone, wider early in pregnancy.
    rim = 0.4 + 0.04 * size.b
    canvas.paint(band(skull_d + half + rim / 2, rim / 2, edge) * 0.7, echo.FLUID)
    ring = band(skull_d, half, edge)
    if cele is not None:
        ring = ring * (1.0 - anomalies.defect_mask(frame, cele, size))
    shine = specular(normal_u, normal_v, frame, floor=0.08)
    level = echo.BONE * (0.15 + 0.35 * size.ossification) * shine
    canvas.paint_bone(ring, level, echo.BONE_ATTENUATION * size.ossification)


def _line(frame, p0, p1, half_width, edge):
    return band(segment_distance(frame.u, frame.v, p0, p1), half_width, edge)


def _paint_midline(canvas, frame, size, spans) -> None:
    """The falx / interhemispheric fissure along the given (u0, u1) spans (fractions of a)."""
    half = max(0.25, frame.edge_mm)
    for u0, u1 in spans:
        mask = _line(frame, (u0 * size.a, 0.0), (u1 * size.a, 0.0), half, frame.edge_mm)
        canvas.paint(mask, echo.FALX, textured=False)


def _paint_csp(canvas, frame, size) -> None:
    """Cavum septi pellucidi: a small fluid box in the front third, with bright walls."""
    cu, half_u, half_v = 0.36 * size.a, 0.1 * size.a, 0.07 * size.b
    box = np.maximum(np.abs(frame.u - cu) - half_u, np.abs(frame.v) - half_v)
    canvas.paint(inside(box - 0.35, frame.edge_mm), echo.MEMBRANE)
    canvas.paint(inside(box, frame.edge_mm), echo.FLUID, textured=False)


def _paint_frontal_horns(canvas, frame, size) -> None:
    for side in (-1.0, 1.0):
        d = ellipse_distance(
            frame.u,
            frame.v,
            0.38 * size.a,
            side * 0.17 * size.b,
            0.1 * size.a,
            0.045 * size.b,
            angle_rad=side * 0.35,
        )
        canvas.paint(inside(d, frame.edge_mm), echo.FLUID, textured=False)


def _paint_sylvian_fissures(canvas, frame, size) -> None:
    """Insula and Sylvian fissure: a bright curved line laterally, growing with gestation."""
    maturity = size.ossification  # 0.25 at 12 weeks .. 1 from 26 weeks
    if maturity < 0.3:
        return
    for side in (-1.0, 1.0):
        d = ellipse_distance(
            frame.u, frame.v, 0.08 * size.a, side * 0.98 * size.b, 0.22 * size.a, 0.22 * size.b
        )
        keep = np.abs(frame.v) < 0.86 * size.b
        canvas.paint(band(d, 0.35, frame.edge_mm) * keep, echo.MEMBRANE * maturity)


def _paint_ventricular_level(canvas, frame, size, ventriculomegaly: float) -> None:
    """Trans-ventricular: falx, CSP, frontal horns, atria with bright choroid plexus."""
    _paint_midline(canvas, frame, size, ((-0.94, 0.24), (0.48, 0.94)))
    _paint_csp(canvas, frame, size)
    _paint_frontal_horns(canvas, frame, size)
    _paint_sylvian_fissures(canvas, frame, size)
    width = min(6.5, 0.32 * size.b) * (1.0 + 0.9 * ventriculomegaly)
    for side in (-1.0, 1.0):
        cu, cv = -0.42 * size.a, side * (0.34 * size.b + 0.2 * width * ventriculomegaly)
        tilt = side * 0.3
        atrium = ellipse_distance(frame.u, frame.v, cu, cv, 0.3 * size.a, width / 2, tilt)
        canvas.paint(inside(atrium, frame.edge_mm), echo.FLUID, textured=False)
        plexus = ellipse_distance(
            frame.u, frame.v, cu - 0.05 * size.a, cv, 0.2 * size.a, width / 2 * 0.75, tilt
        )
        canvas.paint(inside(plexus, frame.edge_mm), echo.CHOROID)
        # The lateral wall of the ventricle is a thin bright line.
        canvas.add(band(atrium, 0.25, frame.edge_mm) * 0.5, echo.MEMBRANE)


def _paint_thalami(canvas, frame, size) -> None:
    for side in (-1.0, 1.0):
        d = ellipse_distance(
            frame.u,
            frame.v,
            -0.04 * size.a,
            side * 0.125 * size.b,
            0.17 * size.a,
            0.11 * size.b,
            side * 0.25,
        )
        canvas.paint(inside(d, frame.edge_mm), echo.THALAMUS)
    third_ventricle = _line(frame, (-0.16 * size.a, 0.0), (0.12 * size.a, 0.0), 0.3, frame.edge_mm)
    canvas.paint(third_ventricle, echo.FLUID, textured=False)


def _paint_thalamic_level(canvas, frame, size) -> None:
    """Trans-thalamic: CSP in front, the two thalami, hippocampal gyri behind them."""
    _paint_midline(canvas, frame, size, ((-0.94, -0.4), (0.48, 0.94)))
    _paint_csp(canvas, frame, size)
    _paint_frontal_horns(canvas, frame, size)
    _paint_sylvian_fissures(canvas, frame, size)
    _paint_thalami(canvas, frame, size)
    gyri = ellipse_distance(frame.u, frame.v, -0.1 * size.a, 0.0, 0.3 * size.a, 0.3 * size.b)
    behind = frame.u < -0.2 * size.a
    canvas.paint(band(gyri, 0.3, frame.edge_mm) * behind, echo.MEMBRANE)


def cerebellum_centre(size: HeadSize, cisterna_mm: float, radius: float) -> float:
    """u of the cerebellar hemispheres so that the cisterna magna is ``cisterna_mm`` deep."""
    return -size.a + size.skull / 2 + cisterna_mm + radius


def paint_normal_cerebellum(canvas, frame, size) -> None:
    """Trans-cerebellar: anterior midline, peduncles, dumbbell cerebellum, cisterna magna."""
    _paint_midline(canvas, frame, size, ((0.2, 0.94),))
    _paint_peduncles(canvas, frame, size)
    radius = 0.21 * size.b
    cisterna = float(np.clip(0.26 * size.b, 2.0, 9.0))  # 2-9 mm over pregnancy
    cu = cerebellum_centre(size, cisterna, radius)
    cm = ellipse_distance(
        frame.u, frame.v, cu - radius * 0.6, 0.0, cisterna / 2 + radius * 0.6, 0.4 * size.b
    )
    canvas.paint(inside(cm, frame.edge_mm), echo.FLUID, textured=False)
    for side in (-1.0, 1.0):
        d = ellipse_distance(frame.u, frame.v, cu, side * 0.2 * size.b, radius * 0.9, radius)
        canvas.paint(inside(d - 0.5, frame.edge_mm), echo.CEREBELLUM_RIM)
        canvas.paint(inside(d, frame.edge_mm), echo.BRAIN * 1.2)
    vermis = ellipse_distance(frame.u, frame.v, cu, 0.0, radius * 0.85, 0.075 * size.b)
    canvas.paint(inside(vermis, frame.edge_mm), echo.VERMIS)


def _paint_peduncles(canvas, frame, size) -> None:
    for side in (-1.0, 1.0):
        d = ellipse_distance(
            frame.u, frame.v, -0.14 * size.a, side * 0.08 * size.b, 0.14 * size.a, 0.1 * size.b
        )
        canvas.paint(inside(d, frame.edge_mm), echo.THALAMUS)
