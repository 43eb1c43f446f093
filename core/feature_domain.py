"""Out-of-distribution score: how far an image's features lie from the bundle's training data.

Method (Lee et al., "A simple unified framework for detecting out-of-distribution samples",
NeurIPS 2018): the pooled ``layer4`` features (the class head's input) of the training images
are modelled as one Gaussian per class with a shared covariance. An image's score is its
Mahalanobis distance to the nearest class mean. The features come from the same forward pass
as the class probabilities (``core.model.FeatureTap``), so the score costs one small matrix
product, not another pass.

Why this and not a score of the logits (max softmax probability, energy): the failure to fix is
a model that is *confident* on images unlike anything it was trained on (real fetal heads read
"rachischisis 99%" by a phantom-trained model). Logit scores measure exactly that confidence and
inherit its failure; the distance in feature space does not depend on which class wins.
``cnsight-eval`` reports the max-softmax baseline beside it (docs/benchmarks.md).

Fitting: class means and the shared covariance from the training split (images seen without
augmentation); the covariance is shrunk (Ledoit-Wolf) because 512 features are estimated from a
few thousand images. The threshold comes from the validation split only: the distance below
which ``keep`` (95 %) of the in-domain validation images lie. Scores are reported relative to
it (``ood_score`` = distance / threshold), so 1.0 is the threshold for every bundle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

METHOD = "mahalanobis_shared_covariance"
DEFAULT_KEEP = 0.95  # share of in-domain validation images the threshold keeps


@dataclass(frozen=True)
class FeatureDomain:
    """The part of feature space the training data occupies, and where it ends."""

    class_means: np.ndarray  # K x C, float32
    whitener: np.ndarray  # C x C, W with W W^T = inverse covariance: d = ||(f - mu) W||
    threshold: float  # distance at which an image is called out of distribution

    def distances(self, pooled: torch.Tensor) -> np.ndarray:
        """B x C pooled features -> (B,) Mahalanobis distance to the nearest class mean."""
        w = torch.as_tensor(self.whitener, dtype=torch.float32, device=pooled.device)
        mu = torch.as_tensor(self.class_means, dtype=torch.float32, device=pooled.device) @ w
        z = pooled.float() @ w
        return torch.cdist(z, mu).amin(dim=1).cpu().numpy().astype(np.float64)

    def scores(self, pooled: torch.Tensor) -> np.ndarray:
        """Distances relative to the threshold: > 1 means out of distribution."""
        return self.distances(pooled) / self.threshold

    def tensors(self) -> dict[str, torch.Tensor]:
        """What is stored in the bundle's ``domain.safetensors``."""
        return {
            "class_means": torch.from_numpy(np.ascontiguousarray(self.class_means, np.float32)),
            "whitener": torch.from_numpy(np.ascontiguousarray(self.whitener, np.float32)),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], threshold: float) -> FeatureDomain:
        return cls(
            class_means=tensors["class_means"].float().numpy(),
            whitener=tensors["whitener"].float().numpy(),
            threshold=float(threshold),
        )


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


def fit_feature_domain(
    fit_features: np.ndarray,
    fit_labels: np.ndarray,
    n_classes: int,
    threshold_features: torch.Tensor,
    keep: float = DEFAULT_KEEP,
) -> tuple[FeatureDomain, np.ndarray]:
    """The domain of the training features, thresholded on held-out (validation) features;
    also returns those held-out distances (for the card's description)."""
    means, whitener = fit_gaussians(fit_features, fit_labels, n_classes)
    distances = FeatureDomain(means, whitener, threshold=1.0).distances(threshold_features)
    return FeatureDomain(means, whitener, threshold_for(distances, keep)), distances


def threshold_for(validation_distances: np.ndarray, keep: float = DEFAULT_KEEP) -> float:
    """The distance below which ``keep`` of the in-domain validation images lie."""
    if not 0.5 <= keep < 1.0:
        raise ValueError(f"keep must be in [0.5, 1), got {keep}")
    d = np.asarray(validation_distances, np.float64)
    if d.size == 0:
        raise ValueError("no validation images to set the out-of-distribution threshold on")
    return float(np.quantile(d, keep, method="higher"))
