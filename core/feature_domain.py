"""Out-of-distribution score: how far an image's features lie from the bundle's training data.

Method (Lee et al., "A simple unified framework for detecting out-of-distribution samples",
NeurIPS 2018): at each tapped stage of the network (the global average of a residual stage's
output: ``layer4`` is the class head's input, ``layer3`` the stage before it), the training
images' features are modelled as one Gaussian per class with a shared covariance. An image's
distance at a stage is its Mahalanobis distance to the nearest class mean. The features come
from the same forward pass as the class probabilities (``core.model.FeatureTap``), so the score
costs a few small matrix products, not another pass.

Why a distance in feature space and not a score of the logits (max softmax probability,
energy): the failure to fix is a model that is *confident* on images unlike anything it was
trained on (real fetal heads read "rachischisis 99%" by a phantom-trained model). Logit scores
measure exactly that confidence and inherit its failure; a distance does not depend on which
class wins. ``cnsight-eval`` reports the max-softmax baseline beside it (docs/benchmarks.md).

Why more than one stage (Lee et al.'s feature ensemble): ``layer4`` features are what the class
head needs and little else, so an image of another kind whose ``layer4`` features happen to
resemble a class can pass; the earlier stages still describe texture and structure (speckle,
synthetic shading) and separate such images. The stages are combined without any
out-of-domain data: each stage's distance is divided by its own validation quantile (so each
counts alike) and the mean over stages is the combined distance. Stages, combination, keep and
per-framing thresholds were chosen on selection data (bench/ood_layers.py, docs/benchmarks.md):
``layer4`` alone flagged 95 % of real fetal heads, ``layer2``-``layer4`` all of them.

Why a group that is not a network stage (``texture``, core.texture_statistics): a network's
features are only what its own training made them. A small network trained on real heads
(the FBAU bundles) has no reason to separate phantoms from them, and at 96-224 px the speckle
grain that tells a synthetic image from a scanned one has been averaged away before the first
convolution. The texture group measures that grain on the image's own pixels (the prepared
input's ``region_pixels``, before any resize) and is modelled like a stage: a Gaussian per
class with a shared covariance, its distance scaled by its validation quantile, one term of
the mean. On the FBAU fold-0 bundle it raised the share of unseen phantoms flagged from
50-63 % to 100 % with the same share of its own held-out images kept (docs/benchmarks.md).

Fitting: class means and the shared covariance from the training split (images seen without
augmentation); the covariance is shrunk (Ledoit-Wolf) because hundreds of features are estimated
from a few thousand images. The thresholds come from the validation split only: the combined
distance below which ``keep`` (99 %) of the in-domain validation images lie - one for images
cropped to a DICOM ultrasound region and one for whole images, when the validation split has
enough of each (region-cropped images are framed differently and lie a little further out;
one threshold for both kept too few of them). Scores are reported relative to the image's
threshold (``ood_score`` = distance / threshold), so 1.0 is the threshold for every bundle.

Stored in the bundle's ``domain.safetensors``: per stage ``<stage>.class_means`` (K x C),
``<stage>.whitener`` (C x C) and ``<stage>.scale``; ``region_threshold`` when fitted. Bundles
written before stages existed hold ``class_means`` and ``whitener`` of ``layer4`` only; they
load as one stage with scale 1 and one threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .errors import BundleError
from .texture_statistics import N_FEATURES as N_TEXTURE_FEATURES
from .texture_statistics import TEXTURE

METHOD = "mahalanobis_shared_covariance"
#: Share of in-domain validation images the threshold keeps. Not 0.95: a threshold at the 95 %
#: quantile of 40 validation patients keeps about 95 % of unseen in-domain images on average,
#: so one test set in two keeps fewer; with stages 2-4 the out-of-domain images lie far enough
#: out that 0.99 costs nothing there (chosen on selection data, docs/benchmarks.md).
DEFAULT_KEEP = 0.99
#: The feature groups a new bundle's score uses (chosen on selection data; docs/benchmarks.md):
#: the pixel texture made an FBAU-trained bundle flag phantoms and cost the demo model nothing.
DEFAULT_STAGES = ("layer2", "layer3", "layer4", TEXTURE)
#: What a score can combine: the residual stages of the network, and the pixel texture
#: measured on the image itself (core.texture_statistics). ``--domain-stages`` chooses among these.
FEATURE_GROUPS = ("layer1", "layer2", "layer3", "layer4", TEXTURE)


def network_stages(groups: Sequence[str]) -> tuple[str, ...]:
    """The groups the network's forward pass must return: all but ``texture``, which
    ``core.texture_statistics`` measures on the image itself."""
    return tuple(g for g in groups if g != TEXTURE)


#: Validation images of a framing needed for a threshold of its own (else one threshold).
MIN_IMAGES_PER_FRAMING = 100

Features = Mapping[str, torch.Tensor | np.ndarray]  # stage -> N x C pooled features


@dataclass(frozen=True)
class StageGaussians:
    """One stage's class means and shared covariance (as a whitener), and its distance scale."""

    class_means: np.ndarray  # K x C, float32
    whitener: np.ndarray  # C x C, W with W W^T = inverse covariance: d = ||(f - mu) W||
    scale: float = 1.0  # the stage's validation distance quantile: distances are divided by it

    def distances(self, pooled: torch.Tensor | np.ndarray) -> np.ndarray:
        """N x C pooled features -> (N,) Mahalanobis distance to the nearest class mean."""
        pooled = torch.as_tensor(pooled)
        w = torch.as_tensor(self.whitener, dtype=torch.float32, device=pooled.device)
        mu = torch.as_tensor(self.class_means, dtype=torch.float32, device=pooled.device) @ w
        z = pooled.float() @ w
        return torch.cdist(z, mu).amin(dim=1).cpu().numpy().astype(np.float64)


@dataclass(frozen=True)
class FeatureDomain:
    """The part of feature space the training data occupies, and where it ends."""

    stages: dict[str, StageGaussians]  # in the order they are combined
    threshold: float  # combined distance at which a whole image is out of distribution
    region_threshold: float | None = None  # the same for region-cropped images (None: threshold)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(self.stages)

    @property
    def network_stage_names(self) -> tuple[str, ...]:
        return network_stages(self.stages)

    @property
    def uses_texture(self) -> bool:
        return TEXTURE in self.stages

    @property
    def class_means(self) -> np.ndarray:
        """The last network stage's (the class head input's) class means, K x C."""
        return self.stages[self.network_stage_names[-1]].class_means

    @property
    def whitener(self) -> np.ndarray:
        return self.stages[self.network_stage_names[-1]].whitener

    def distances(self, features: Features) -> np.ndarray:
        """Combined distance: the mean over stages of each stage's distance / its scale."""
        per_stage = [g.distances(features[s]) / g.scale for s, g in self.stages.items()]
        return np.mean(per_stage, axis=0)

    def thresholds(self, cropped: Sequence[bool] | None, n: int) -> np.ndarray:
        """Each image's threshold: ``cropped[i]`` says image i was cut to an ultrasound region."""
        if cropped is None or self.region_threshold is None:
            return np.full(n, self.threshold)
        return np.where(np.asarray(cropped, bool), self.region_threshold, self.threshold)

    def scores(self, features: Features, cropped: Sequence[bool] | None = None) -> np.ndarray:
        """Distances relative to each image's threshold: > 1 means out of distribution."""
        d = self.distances(features)
        return d / self.thresholds(cropped, len(d))

    def tensors(self) -> dict[str, torch.Tensor]:
        """What is stored in the bundle's ``domain.safetensors``."""
        out = {}
        for s, g in self.stages.items():
            out[f"{s}.class_means"] = torch.from_numpy(np.ascontiguousarray(g.class_means, "f4"))
            out[f"{s}.whitener"] = torch.from_numpy(np.ascontiguousarray(g.whitener, "f4"))
            out[f"{s}.scale"] = torch.tensor(g.scale, dtype=torch.float64)
        if self.region_threshold is not None:
            out["region_threshold"] = torch.tensor(self.region_threshold, dtype=torch.float64)
        return out

    def describe(self) -> dict:
        """The card's summary of the statistics (the tensors themselves are in the file)."""
        return {
            "stages": list(self.stage_names),
            "combine": "mean of stage distances, each divided by its validation quantile at keep",
            "stage_scales": {s: round(g.scale, 6) for s, g in self.stages.items()},
            "region_threshold": None
            if self.region_threshold is None
            else round(self.region_threshold, 6),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], threshold: float) -> FeatureDomain:
        """Read ``domain.safetensors`` (both layouts); raises BundleError if it does not fit."""
        if "class_means" in tensors:  # written before stages: layer4 only, scale 1
            stages = {"layer4": _stage(tensors["class_means"], tensors["whitener"], 1.0)}
        else:
            names = sorted({k.rsplit(".", 1)[0] for k in tensors if k.endswith(".class_means")})
            if not names:
                raise BundleError("the domain statistics hold no stage")
            stages = {
                s: _stage(tensors[f"{s}.class_means"], tensors[f"{s}.whitener"], tensors[f"{s}.scale"])
                for s in names
            }  # fmt: skip
        if TEXTURE in stages and stages[TEXTURE].class_means.shape[1] != N_TEXTURE_FEATURES:
            raise BundleError(
                f"the domain statistics' {TEXTURE} group has {stages[TEXTURE].class_means.shape[1]} "
                f"features; this version measures {N_TEXTURE_FEATURES} (core.texture_statistics)"
            )
        if set(stages) == {TEXTURE}:
            raise BundleError("the domain statistics hold no network stage, only pixel texture")
        k = {g.class_means.shape[0] for g in stages.values()}
        if len(k) != 1:
            raise BundleError("the domain statistics' stages disagree on the number of classes")
        region = tensors.get("region_threshold")
        domain = cls(stages, float(threshold), None if region is None else float(region))
        for value in (domain.threshold, domain.region_threshold):
            if value is not None and not (np.isfinite(value) and value > 0):
                raise BundleError(f"domain threshold must be a finite number > 0, got {value}")
        return domain


def _stage(means: torch.Tensor, whitener: torch.Tensor, scale) -> StageGaussians:
    means, whitener = means.float().numpy(), whitener.float().numpy()
    scale = float(torch.as_tensor(scale))
    if means.ndim != 2 or whitener.shape != (means.shape[1], means.shape[1]):
        raise BundleError(
            f"domain statistics of shape {tuple(means.shape)} / {tuple(whitener.shape)} do not fit"
        )
    if not (np.isfinite(scale) and scale > 0):
        raise BundleError(f"domain stage scale must be a finite number > 0, got {scale}")
    return StageGaussians(means, whitener, scale)


def fit_gaussians(
    features: np.ndarray, labels: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """(class means K x C, whitener C x C) from N x C training features and their class ids.

    Classes are 0..K-1; a class without training images gets the overall mean as its mean, so
    the statistics still fit the model's K classes."""
    from sklearn.covariance import LedoitWolf  # only when fitting (training)

    features = np.asarray(features, np.float64)
    labels = np.asarray(labels)
    k = int(n_classes)
    overall = features.mean(axis=0)
    means = np.stack(
        [features[labels == c].mean(axis=0) if np.any(labels == c) else overall for c in range(k)]
    )
    centred = features - means[labels]
    covariance = LedoitWolf(assume_centered=True).fit(centred).covariance_
    precision = np.linalg.inv(covariance)
    precision = (precision + precision.T) / 2.0  # exact symmetry for the Cholesky factor
    whitener = np.linalg.cholesky(precision)  # L L^T = precision -> ||(f - mu) L||^2 = d^2
    return means.astype(np.float32), whitener.astype(np.float32)


def _as_stages(features: Features | np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """A bare N x C array is the class head's input (``layer4``)."""
    if isinstance(features, Mapping):
        return {s: np.asarray(torch.as_tensor(f).float().numpy()) for s, f in features.items()}
    return {"layer4": np.asarray(torch.as_tensor(features).float().numpy())}


def fit_feature_domain(
    fit_features: Features | np.ndarray,
    fit_labels: np.ndarray,
    n_classes: int,
    threshold_features: Features | torch.Tensor,
    keep: float = DEFAULT_KEEP,
    threshold_cropped: Sequence[bool] | None = None,
) -> tuple[FeatureDomain, np.ndarray]:
    """The domain of the training features, thresholded on held-out (validation) features;
    also returns those held-out combined distances (for the card's description).

    Features are ``{stage: N x C}`` (or one N x C array: ``layer4``); ``threshold_cropped``
    says which held-out images were cut to an ultrasound region: with at least
    ``MIN_IMAGES_PER_FRAMING`` of each kind, each kind gets its own threshold."""
    fit, held_out = _as_stages(fit_features), _as_stages(threshold_features)
    stages = {}
    for s, f in fit.items():
        means, whitener = fit_gaussians(f, fit_labels, n_classes)
        unscaled = StageGaussians(means, whitener)
        scale = threshold_for(unscaled.distances(held_out[s]), keep)
        stages[s] = StageGaussians(means, whitener, scale)
    distances = FeatureDomain(stages, threshold=1.0).distances(held_out)
    cropped = None if threshold_cropped is None else np.asarray(threshold_cropped, bool)
    if cropped is not None and min(cropped.sum(), (~cropped).sum()) >= MIN_IMAGES_PER_FRAMING:
        whole, region = (
            threshold_for(distances[~cropped], keep),
            threshold_for(distances[cropped], keep),
        )
    else:
        whole, region = threshold_for(distances, keep), None
    return FeatureDomain(stages, whole, region), distances


def threshold_for(validation_distances: np.ndarray, keep: float = DEFAULT_KEEP) -> float:
    """The distance below which ``keep`` of the in-domain validation images lie."""
    if not 0.5 <= keep < 1.0:
        raise ValueError(f"keep must be in [0.5, 1), got {keep}")
    d = np.asarray(validation_distances, np.float64)
    if d.size == 0:
        raise ValueError("no validation images to set the out-of-distribution threshold on")
    return float(np.quantile(d, keep, method="higher"))
