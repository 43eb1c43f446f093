"""Planes, patient-level anomaly traits, and which plane shows which anomaly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.taxonomy import DEFAULT_CLASS_NAMES

TRANS_VENTRICULAR = "trans-ventricular"
TRANS_THALAMIC = "trans-thalamic"
TRANS_CEREBELLAR = "trans-cerebellar"
SPINE_SAGITTAL = "spine-sagittal"

HEAD_PLANES: tuple[str, ...] = (TRANS_VENTRICULAR, TRANS_THALAMIC, TRANS_CEREBELLAR)
PLANES: tuple[str, ...] = (*HEAD_PLANES, SPINE_SAGITTAL)

PHANTOM_CLASSES: tuple[str, ...] = DEFAULT_CLASS_NAMES

#: Planes in which each class's signs can appear at all (whether they do is in ``Traits``).
SIGN_PLANES: dict[str, tuple[str, ...]] = {
    "normal": (),
    "anencephaly": HEAD_PLANES,
    "encephalocele": (TRANS_VENTRICULAR, TRANS_CEREBELLAR),
    "holoprosencephaly": (TRANS_VENTRICULAR, TRANS_THALAMIC),
    "rachischisis": PLANES,
}


@dataclass(frozen=True)
class Traits:
    """What one fetus looks like: its class, age, and the parameters of its anomaly."""

    label: str
    ga_weeks: float
    head_scale: float = 1.0  # individual size around the chart
    cephalic_index_scale: float = 1.0
    # anencephaly
    exencephaly: float = 0.0  # how much disorganised brain tissue is left (1 early, ~0.2 late)
    # encephalocele
    cele_defect_deg: float = 0.0  # half-angle of the occipital bone defect
    cele_radius: float = 0.0  # sac radius as a fraction of half the BPD
    cele_brain: bool = False  # brain tissue in the sac (encephalocele) or fluid only (meningocele)
    cele_offset_deg: float = 0.0  # defect position relative to the occipital pole
    # holoprosencephaly
    hpe_alobar: bool = True
    # rachischisis
    lemon: float = 0.0  # depth of the frontal scalloping (fraction of the radius), 0 = none
    ventriculomegaly: float = 0.0  # extra atrial width (fraction of the normal width)
    defect_vertebrae: int = 0
    defect_position: float = 0.0  # 0 = sacrum, 1 = upper lumbar
    sac: bool = False  # myelomeningocele (sac) or myeloschisis (open, no sac)
    sac_radius: float = 0.0  # in vertebra pitches
    # shared randomness for irregular shapes
    shape_seed: int = 0


def draw_traits(label: str, ga_weeks: float, rng: np.random.Generator) -> Traits:
    """Random traits of a fetus of class ``label`` at ``ga_weeks``."""
    if label not in PHANTOM_CLASSES:
        raise ValueError(f"unknown phantom class {label!r}; known: {', '.join(PHANTOM_CLASSES)}")
    common = {
        "label": label,
        "ga_weeks": float(ga_weeks),
        "head_scale": float(rng.normal(1.0, 0.05)),
        "cephalic_index_scale": float(rng.normal(1.0, 0.04)),
        "shape_seed": int(rng.integers(0, 2**31 - 1)),
    }
    if label == "anencephaly":
        # Exencephaly early; the exposed tissue degenerates over the pregnancy.
        left = float(np.clip(1.1 - (ga_weeks - 12.0) / 22.0, 0.15, 1.0))
        return Traits(**common, exencephaly=left * float(rng.uniform(0.8, 1.1)))
    if label == "encephalocele":
        return Traits(
            **common,
            cele_defect_deg=float(rng.uniform(11.0, 22.0)),
            cele_radius=float(rng.uniform(0.35, 0.75)),
            cele_brain=bool(rng.random() < 0.65),
            cele_offset_deg=float(rng.uniform(-18.0, 18.0)),
        )
    if label == "holoprosencephaly":
        return Traits(**common, hpe_alobar=bool(rng.random() < 0.6))
    if label == "rachischisis":
        # The lemon sign is common before 24 weeks and often gone later.
        lemon_probability = 0.95 if ga_weeks < 24.0 else 0.45
        has_lemon = rng.random() < lemon_probability
        return Traits(
            **common,
            lemon=float(rng.uniform(0.09, 0.15)) if has_lemon else 0.0,
            ventriculomegaly=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.6 else 0.0,
            defect_vertebrae=int(rng.integers(3, 7)),
            defect_position=float(rng.uniform(0.05, 0.6)),
            sac=bool(rng.random() < 0.75),
            sac_radius=float(rng.uniform(1.6, 3.0)),
        )
    return Traits(**common)


def anomaly_visible(traits: Traits, plane: str) -> bool:
    """Whether an image of ``plane`` shows this fetus's anomaly (ground truth for sign-level use)."""
    if plane not in PLANES:
        raise ValueError(f"unknown plane {plane!r}; known: {', '.join(PLANES)}")
    if plane not in SIGN_PLANES[traits.label]:
        return False
    if traits.label == "rachischisis":
        if plane in (SPINE_SAGITTAL, TRANS_CEREBELLAR):
            return True  # open defect; banana cerebellum with an effaced cisterna magna
        if plane == TRANS_VENTRICULAR:
            return traits.lemon > 0 or traits.ventriculomegaly > 0
        return traits.lemon > 0
    return True
