"""Builders shared by the desktop tests (a module, not conftest, so tests can import them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_png(path: Path, seed: int, size=(96, 128)) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = size
    # A bright ring on speckle: some structure, so heatmaps and thumbnails are not flat.
    yy, xx = np.mgrid[0:h, 0:w]
    ring = np.abs(np.hypot(yy - h / 2, xx - w / 2) - min(h, w) / 3) < 3
    grey = rng.integers(0, 90, size=(h, w)).astype(np.uint8)
    grey[ring] = 230
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.dstack([grey] * 3)).save(path)
    return path


def fake_prediction(ref, probs, cam_size=4, box=(0, 0, 8, 8), outside: str = "", plane=None):
    """An ImagePrediction with given probabilities (for view-model tests without a model).
    ``outside``: a reason code of core.domain.REASONS, for an image the model cannot assess."""
    from core.domain import ASSESSABLE, DomainCheck
    from core.predictor import ImagePrediction

    probs = np.asarray(probs, dtype=np.float64)
    cams = np.tile(
        np.linspace(0, 1, cam_size * cam_size).reshape(cam_size, cam_size), (len(probs), 1, 1)
    )
    check = DomainCheck(False, outside, f"test: {outside}") if outside else ASSESSABLE
    return ImagePrediction(
        ref=ref, probs=probs, cams=cams, input_box=box, check=check,
        ood_score=3.0 if outside == "out_of_distribution" else 0.5,
        plane=plane, plane_prob=None if plane is None else 0.9,
    )  # fmt: skip
