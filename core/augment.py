"""Training augmentation, defined next to THE evaluation preprocessing (``core.preprocess``).

It starts from the same pixels the evaluation sees (``region_pixels``: the ultrasound region
when the file declares one), ends with the same ``normalize`` and yields the same input size
(``spec.crop``), so training and evaluation differ only by the random steps below:

1. random resized crop to ``spec.crop`` (area fraction ``scale``, aspect ``ratio``) of what the
   evaluation frames: the region padded to a square (pad-to-square framing), or the region;
2. small rotation (fills with black, which is what lies outside an ultrasound fan);
3. horizontal flip (left/right is arbitrary in axial planes);
4. brightness, contrast and gamma jitter (gain, dynamic range and display curve differ per scanner);
5. speckle: multiplicative Gaussian noise, the same for the three channels (ultrasound is grey).

The default crop scale (0.35, 1) is narrower than torchvision's (0.08, 1): every image carries
the patient's label, and a crop of 8 % of the area can cut away the defect that makes the label.

``augment`` is a pure function of (image, spec, params, generator): every random draw comes from
the ``torch.Generator`` passed in, so a seeded generator gives the same tensor every time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from .preprocess import PreprocessSpec, fit_size, normalize, region_pixels, to_float_tensor
from .records import LoadedImage


@dataclass(frozen=True)
class AugmentParams:
    """Strength of each random step. A zero turns that step off."""

    scale: tuple[float, float] = (0.35, 1.0)  # area fraction of the region kept by the crop
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio range of the crop
    hflip: float = 0.5  # probability of a horizontal flip
    rotation_deg: float = 10.0  # uniform in [-rotation_deg, +rotation_deg]
    brightness: float = 0.2  # multiply by U(1 - b, 1 + b)
    contrast: float = 0.2  # scale deviations from the mean by U(1 - c, 1 + c)
    gamma: float = 0.2  # exponent log-uniform in [1 / (1 + g), 1 + g]
    speckle: float = 0.15  # noise std drawn from U(0, speckle), multiplicative

    def __post_init__(self):
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"need 0 < scale[0] <= scale[1] <= 1, got {self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"need 0 < ratio[0] <= ratio[1], got {self.ratio}")
        if not 0 <= self.hflip <= 1:
            raise ValueError(f"hflip is a probability, got {self.hflip}")
        for name in ("rotation_deg", "brightness", "contrast", "gamma", "speckle"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.brightness >= 1 or self.contrast >= 1:
            raise ValueError("brightness and contrast jitter must be < 1")
        object.__setattr__(self, "scale", (float(lo), float(hi)))
        object.__setattr__(self, "ratio", (float(self.ratio[0]), float(self.ratio[1])))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scale"], d["ratio"] = list(self.scale), list(self.ratio)
        return d


def _uniform(generator: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(1, generator=generator))


def sample_crop_box(
    height: int, width: int, params: AugmentParams, generator: torch.Generator
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random crop, as torchvision's RandomResizedCrop draws it."""
    area = height * width
    log_ratio = (math.log(params.ratio[0]), math.log(params.ratio[1]))
    for _ in range(10):
        target_area = area * _uniform(generator, *params.scale)
        aspect = math.exp(_uniform(generator, *log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return top, left, h, w
    # Fallback (as torchvision): the largest centred crop within the ratio range.
    in_ratio = width / height
    if in_ratio < params.ratio[0]:
        w, h = width, int(round(width / params.ratio[0]))
    elif in_ratio > params.ratio[1]:
        h, w = height, int(round(height * params.ratio[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def jitter_intensity(
    t: torch.Tensor, params: AugmentParams, generator: torch.Generator
) -> torch.Tensor:
    """Brightness, contrast and gamma jitter of a 3 x H x W tensor in [0, 1]."""
    if params.brightness:
        t = t * _uniform(generator, 1 - params.brightness, 1 + params.brightness)
    if params.contrast:
        mean = t.mean()
        t = (t - mean) * _uniform(generator, 1 - params.contrast, 1 + params.contrast) + mean
    t = t.clamp(0.0, 1.0)
    if params.gamma:
        log_g = math.log1p(params.gamma)
        t = t.pow(math.exp(_uniform(generator, -log_g, log_g)))
    return t


def add_speckle(t: torch.Tensor, params: AugmentParams, generator: torch.Generator) -> torch.Tensor:
    """Multiplicative noise ``t * (1 + s * N(0, 1))``, one noise field shared by the channels."""
    if not params.speckle:
        return t
    sigma = _uniform(generator, 0.0, params.speckle)
    noise = torch.randn((1, *t.shape[1:]), generator=generator)
    return (t * (1.0 + sigma * noise)).clamp(0.0, 1.0)


def padded_square_crop(pixels: np.ndarray, top: int, left: int, h: int, w: int) -> np.ndarray:
    """The h x w window at (top, left) of the black square that ``prepare`` centres ``pixels``
    on (pad-to-square framing), without building the square: only the window is allocated."""
    ph, pw = pixels.shape[:2]
    side = max(ph, pw)
    y0, x0 = top - (side - ph) // 2, left - (side - pw) // 2  # window origin in pixel coordinates
    out = np.zeros((h, w, 3), np.uint8)
    sy0, sx0, sy1, sx1 = max(0, y0), max(0, x0), min(ph, y0 + h), min(pw, x0 + w)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = pixels[sy0:sy1, sx0:sx1]
    return out


def _random_window(
    pixels: np.ndarray, spec: PreprocessSpec, params: AugmentParams, generator: torch.Generator
) -> np.ndarray:
    """The uint8 window a training view is made from: a random crop of what ``prepare`` frames
    (the padded square of the whole region, or the region for the centre-crop framing)."""
    if not spec.sees_whole_region:
        top, left, h, w = sample_crop_box(pixels.shape[0], pixels.shape[1], params, generator)
        return pixels[top : top + h, left : left + w]
    ph, pw = pixels.shape[:2]
    if max(ph, pw) > 2 * spec.crop:  # shrink first: the window never needs more resolution
        nh, nw = fit_size(ph, pw, 2 * spec.crop)
        pixels = cv2.resize(pixels, (nw, nh), interpolation=cv2.INTER_AREA)
    side = max(pixels.shape[:2])
    top, left, h, w = sample_crop_box(side, side, params, generator)
    return padded_square_crop(pixels, top, left, h, w)


def augment(
    image: LoadedImage, spec: PreprocessSpec, params: AugmentParams, generator: torch.Generator
) -> torch.Tensor:
    """A random training view of ``image``: 3 x crop x crop float32, normalised like ``prepare``."""
    pixels, _ = region_pixels(image, spec)
    # Crop the uint8 pixels first: converting only the crop to float is much cheaper.
    t = to_float_tensor(_random_window(pixels, spec, params, generator))
    t = TF.resize(t, [spec.crop, spec.crop], antialias=True)
    if params.rotation_deg:
        angle = _uniform(generator, -params.rotation_deg, params.rotation_deg)
        t = TF.rotate(t, angle, interpolation=InterpolationMode.BILINEAR, fill=0.0)
    if float(torch.rand(1, generator=generator)) < params.hflip:
        t = TF.horizontal_flip(t)
    t = jitter_intensity(t, params, generator)
    t = add_speckle(t, params, generator)
    return normalize(t, spec)
