"""Bundles and images for tests: small untrained networks, seeded, so deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.bundle import ModelCard, save_bundle
from core.feature_domain import fit_feature_domain
from core.model import FeatureTap, build_model
from core.preprocess import PreprocessSpec, prepare
from core.records import ImageRef, LoadedImage
from core.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from core.texture_statistics import TEXTURE, image_texture


def make_bundle(
    out: Path,
    crop=64,
    resize=72,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    seed=0,
    architecture="resnet34",
    half=False,
    planes: tuple[str, ...] = (),
    domain_images: list[LoadedImage] | None = None,
    threshold_images: list[LoadedImage] | None = None,
    signing_key=None,
    texture: bool = False,
) -> Path:
    """An untrained, seeded bundle, sealed as every bundle ``save_bundle`` writes (signed with
    ``signing_key``, an Ed25519 private key, when given). ``planes``: add a plane head.
    ``domain_images``: fit the out-of-distribution statistics on these images (their "training
    data"); the threshold keeps 95 % of ``threshold_images`` (their "validation data", as in
    cnsight-train). ``texture``: the statistics also hold the pixel-texture group."""
    torch.manual_seed(seed)
    model = build_model(architecture, len(taxonomy), len(planes)).eval()
    spec = PreprocessSpec(resize=resize, crop=crop)
    domain = None
    if domain_images:
        domain = fit_domain(model, domain_images, threshold_images, spec, len(taxonomy), texture)
    card = ModelCard(
        name="test-model",
        architecture=architecture,
        taxonomy=taxonomy,
        preprocessing=spec,
        planes=tuple(planes),
        domain={"keep": 0.95, "n_fit_images": len(domain_images or [])} if domain else {},
    )
    save_bundle(model, card, out, half=half, feature_domain=domain, signing_key=signing_key)
    return out


def _pooled(model, images: list[LoadedImage], spec: PreprocessSpec) -> torch.Tensor:
    batch = torch.stack([prepare(im, spec)[0] for im in images])
    with FeatureTap(model) as tap, torch.inference_mode():
        model(batch)
        return tap.pooled()


def _features(model, images: list[LoadedImage], spec: PreprocessSpec, texture: bool) -> dict:
    features = {"layer4": _pooled(model, images, spec).numpy()}
    if texture:
        features[TEXTURE] = np.stack([image_texture(im, spec) for im in images])
    return features


def fit_domain(
    model, images, threshold_images, spec: PreprocessSpec, n_classes: int, texture: bool = False
):
    """Feature-domain statistics of ``images`` (all called class 0, as one Gaussian)."""
    fit = _features(model, images, spec, texture)
    held_out = _features(model, threshold_images or images, spec, texture)
    labels = np.zeros(len(images), int)
    return fit_feature_domain(fit, labels, n_classes, held_out)[0]


def random_image(h=80, w=96, seed=0, region=None, name="img.png") -> LoadedImage:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return LoadedImage(ref=ImageRef(path=Path(name), patient_id="p1"), pixels=pixels, region=region)
