"""Synthetic phantom studies: B-mode-like fetal head and spine images for the five classes.

Used to test and demonstrate the pipeline without patient data. Research use only: phantoms
are not a substitute for real data and say nothing about clinical accuracy.
"""

from phantoms.render import DEFAULT_SIZE, render_frames, render_image
from phantoms.sites import SITE_NAMES, SITES, Site, get_site
from phantoms.traits import (
    HEAD_PLANES,
    PHANTOM_CLASSES,
    PLANES,
    SPINE_SAGITTAL,
    TRANS_CEREBELLAR,
    TRANS_THALAMIC,
    TRANS_VENTRICULAR,
    Traits,
    anomaly_visible,
    draw_traits,
)

__all__ = [
    "DEFAULT_SIZE",
    "HEAD_PLANES",
    "PHANTOM_CLASSES",
    "PLANES",
    "SITES",
    "SITE_NAMES",
    "SPINE_SAGITTAL",
    "TRANS_CEREBELLAR",
    "TRANS_THALAMIC",
    "TRANS_VENTRICULAR",
    "Site",
    "Traits",
    "anomaly_visible",
    "draw_traits",
    "get_site",
    "render_frames",
    "render_image",
]
