"""Builders used by several test modules (kept out of conftest so they can be imported)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.bundle import ModelCard, save_bundle
from core.model import build_model
from core.preprocess import PreprocessSpec
from core.records import ImageRef, LoadedImage
from core.taxonomy import DEFAULT_TAXONOMY, Taxonomy


def make_bundle(
    out: Path,
    crop=64,
    resize=72,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    seed=0,
    architecture="resnet34",
    half=False,
) -> Path:
    torch.manual_seed(seed)
    model = build_model(architecture, len(taxonomy))
    card = ModelCard(
        name="test-model",
        architecture=architecture,
        taxonomy=taxonomy,
        preprocessing=PreprocessSpec(resize=resize, crop=crop),
    )
    save_bundle(model, card, out, half=half)
    return out


def random_image(h=80, w=96, seed=0, region=None, name="img.png") -> LoadedImage:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return LoadedImage(ref=ImageRef(path=Path(name), patient_id="p1"), pixels=pixels, region=region)
