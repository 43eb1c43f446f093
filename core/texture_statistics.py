"""Pixel texture of an image at its own resolution: one more feature group for the
out-of-distribution score (``core.feature_domain``), beside the network's stages.

Why: the network sees each image resized to its input size (96-224 px), which averages away the
grain of the pixels - speckle, noise, blur, compression - the very thing that tells one scanner
and export pipeline from another. A bundle trained from scratch on a few dozen real patients has
features too broad to tell synthetic phantoms from its own images (AUROC 0.96-0.98 on its stage
features, docs/benchmarks.md), while at full resolution the two differ plainly: real clinical
exports are smooth at the pixel scale (upsampled, JPEG-compressed), phantoms carry pixel-level
noise. A model validated on one pipeline's images has not been validated on another's, so an
image whose grain is unlike any training image's is out of distribution for that bundle.

The group is named ``texture`` in ``--domain-stages`` and in the bundle; it is fitted and
thresholded exactly like a network stage (class means, shared covariance, validation scale).

Measured on the part of the image the model sees (``core.preprocess.region_pixels``: the DICOM
ultrasound region when there is one), before any resizing, and only where there is signal
(local mean above ``SIGNAL_FLOOR``: the black surround of a sector says nothing about the
scanner). Per scale 1, 2, 4, 8 (area-downsampled): the mean absolute Laplacian and the mean
absolute horizontal difference, each as a log ratio to the mean brightness (so gain and
brightness cancel); then the log coefficient of variation and the share of the region with
signal. Ten numbers, a few milliseconds for a 640 x 640 image, no network involved.
"""

from __future__ import annotations

import cv2
import numpy as np

from .preprocess import PreprocessSpec, region_pixels
from .records import LoadedImage

#: The feature group's name in the bundle's domain statistics and in ``--domain-stages``.
TEXTURE = "texture"
SCALES = (1, 2, 4, 8)
#: Grey level (of 255) of the 7 x 7 local mean below which a pixel is background, not signal.
SIGNAL_FLOOR = 12.0
#: Fewer signal pixels than this at a scale: that scale is measured over the whole region.
MIN_SIGNAL_PIXELS = 64
N_FEATURES = 2 * len(SCALES) + 2
_EPS = 1e-3


def image_texture(image: LoadedImage, spec: PreprocessSpec) -> np.ndarray:
    """The texture of the part of ``image`` the model sees (one definition for the Predictor,
    training and the benchmarks)."""
    return texture_features(region_pixels(image, spec)[0])


def texture_features(pixels: np.ndarray) -> np.ndarray:
    """H x W x 3 (or H x W) uint8 region pixels -> ``N_FEATURES`` float32 texture statistics.

    Always finite: a blank or tiny region gives defined numbers (the model-free checks refuse
    such images before the score is read)."""
    grey = np.asarray(pixels)
    if grey.ndim == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(grey[..., :3]), cv2.COLOR_RGB2GRAY)
    grey = grey.astype(np.float32)
    out = []
    for s in SCALES:
        g = grey if s == 1 else _downsample(grey, s)
        mask = _signal(g)
        brightness = np.log(float(g[mask].mean()) + _EPS)
        laplacian = np.abs(cv2.Laplacian(g, cv2.CV_32F, ksize=1))
        out.append(np.log(float(laplacian[mask].mean()) + _EPS) - brightness)
        out.append(np.log(_mean_step(g, mask) + 0.5) - brightness)
    mask = _signal(grey)
    values = grey[mask]
    out.append(np.log(float(values.std()) + _EPS) - np.log(float(values.mean()) + _EPS))
    out.append(float(mask.mean()))
    return np.asarray(out, np.float32)


def _downsample(grey: np.ndarray, s: int) -> np.ndarray:
    h, w = grey.shape
    return cv2.resize(grey, (max(4, w // s), max(4, h // s)), interpolation=cv2.INTER_AREA)


def _signal(grey: np.ndarray) -> np.ndarray:
    """Where the image has signal; the whole region when too little of it has."""
    mask = cv2.blur(grey, (7, 7)) > SIGNAL_FLOOR
    if int(mask.sum()) < MIN_SIGNAL_PIXELS:
        mask = np.ones_like(mask)
    return mask


def _mean_step(grey: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours whose right pixel has
    signal; 0 for a region one pixel wide."""
    if grey.shape[1] < 2:
        return 0.0
    steps = np.abs(np.diff(grey, axis=1))[mask[:, 1:]]
    return float(steps.mean()) if steps.size else 0.0
