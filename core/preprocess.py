"""THE model-input preprocessing. One definition, used by the predictor, the training
evaluation, the CLI and the app, and described in every bundle's model card.

Evaluation pipeline (the published study's): crop to the ultrasound region when the file
declares one, resize the short side to ``resize`` (antialiased bilinear), centre-crop
``crop`` x ``crop``, scale to [0, 1], normalise with ImageNet mean/std. Grey images are
already 3-channel RGB by the time they get here (``core.imaging`` returns H x W x 3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from .records import Box, LoadedImage

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessSpec:
    """Parameters of the evaluation preprocessing (stored in the model card)."""

    resize: int = 256  # short side after resizing
    crop: int = 224  # centre crop = model input size
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop_to_region: bool = True  # use DICOM Sequence of Ultrasound Regions when present

    def __post_init__(self):
        if not 0 < self.crop <= self.resize:
            raise ValueError(f"need 0 < crop ({self.crop}) <= resize ({self.resize})")
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["name"] = "resize_short_centre_crop"
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessSpec:
        known = {k: d[k] for k in ("resize", "crop", "mean", "std", "crop_to_region") if k in d}
        return cls(**known)


def region_pixels(image: LoadedImage, spec: PreprocessSpec) -> tuple[np.ndarray, Box]:
    """The part of the image the model sees before resizing, and its box in the full image."""
    h, w = image.pixels.shape[:2]
    if spec.crop_to_region and image.region is not None:
        x0, y0, x1, y1 = image.region
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 >= 8 and y1 - y0 >= 8:  # ignore degenerate regions
            return image.pixels[y0:y1, x0:x1], (x0, y0, x1, y1)
    return image.pixels, (0, 0, w, h)


def to_float_tensor(pixels: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 -> 3 x H x W float32 in [0, 1]."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected H x W x 3 uint8 pixels, got {pixels.dtype} {pixels.shape}")
    if not pixels.flags.writeable:  # loaded images are read-only; torch wants writable memory
        pixels = pixels.copy()
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float().div_(255.0)


def normalize(t: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """Apply the spec's mean/std to a 3 x H x W (or B x 3 x H x W) tensor in [0, 1]."""
    return TF.normalize(t, list(spec.mean), list(spec.std))


def _centre_crop_box(h: int, w: int, spec: PreprocessSpec) -> tuple[float, int, int]:
    """Scale factor and crop offsets (in resized pixels) exactly as torchvision computes them."""
    scale = spec.resize / min(h, w)
    new_h, new_w = (
        (spec.resize, int(spec.resize * w / h))
        if h <= w
        else (int(spec.resize * h / w), spec.resize)
    )
    top = int(round((new_h - spec.crop) / 2.0))
    left = int(round((new_w - spec.crop) / 2.0))
    return scale, top, left


def prepare(image: LoadedImage, spec: PreprocessSpec) -> tuple[torch.Tensor, Box]:
    """Model input (3 x crop x crop float32) and the box of the full image it covers."""
    pixels, (rx0, ry0, _, _) = region_pixels(image, spec)
    h, w = pixels.shape[:2]
    t = to_float_tensor(pixels)
    t = TF.resize(t, spec.resize, antialias=True)
    t = TF.center_crop(t, [spec.crop, spec.crop])
    scale, top, left = _centre_crop_box(h, w, spec)
    box = (
        rx0 + int(round(left / scale)),
        ry0 + int(round(top / scale)),
        rx0 + int(round((left + spec.crop) / scale)),
        ry0 + int(round((top + spec.crop) / scale)),
    )
    return normalize(t, spec), box
