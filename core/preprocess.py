"""THE model-input preprocessing. One definition, used by the predictor, the training
evaluation, the CLI and the app, and described in every bundle's model card.

Two framings, named in the card (``preprocessing.name``):

- ``pad_to_square`` (the default for new bundles): crop to the ultrasound region when the file
  declares one, resize so the LONG side is ``crop`` (antialiased bilinear), pad the short side
  with black to ``crop`` x ``crop`` (black is what surrounds an ultrasound sector). The model
  sees the whole field of view: a sac or a spinal defect at the edge of the sector is never cut
  off, and the heatmaps cover the whole region.
- ``resize_short_centre_crop`` (the published study's, and older bundles'): resize the short
  side to ``resize``, centre-crop ``crop`` x ``crop``. Whatever lies outside the centre square
  is never seen by the model.

Both end the same way: scale to [0, 1], normalise with ImageNet mean/std. Grey images are
already 3-channel RGB by the time they get here (``core.imaging`` returns H x W x 3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from .errors import ImageReadError
from .imaging.limits import MAX_ASPECT
from .records import Box, LoadedImage

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


PAD_TO_SQUARE = "pad_to_square"
CENTRE_CROP = "resize_short_centre_crop"
FRAMINGS = (PAD_TO_SQUARE, CENTRE_CROP)


@dataclass(frozen=True)
class PreprocessSpec:
    """Parameters of the evaluation preprocessing (stored in the model card)."""

    resize: int = 256  # centre-crop framing only: short side after resizing
    crop: int = 224  # model input size (crop x crop)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop_to_region: bool = True  # use DICOM Sequence of Ultrasound Regions when present
    framing: str = PAD_TO_SQUARE

    def __post_init__(self):
        if self.framing not in FRAMINGS:
            raise ValueError(f"unknown framing {self.framing!r}; choose from {', '.join(FRAMINGS)}")
        if not 0 < self.crop <= self.resize:
            raise ValueError(f"need 0 < crop ({self.crop}) <= resize ({self.resize})")
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    @property
    def sees_whole_region(self) -> bool:
        return self.framing == PAD_TO_SQUARE

    def describe(self) -> str:
        """One line for the model-card dialog and reports."""
        if self.sees_whole_region:
            return f"whole field of view, padded to a {self.crop} x {self.crop} square"
        return f"resize short side {self.resize}, centre crop {self.crop} (edges not seen)"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["name"] = d.pop("framing")
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessSpec:
        known = {k: d[k] for k in ("resize", "crop", "mean", "std", "crop_to_region") if k in d}
        # Cards written before the pad-to-square framing existed name the centre crop (or
        # nothing): they were trained and validated that way and must run that way.
        return cls(**known, framing=d.get("name", CENTRE_CROP))


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


def fit_size(h: int, w: int, side: int) -> tuple[int, int]:
    """(height, width) of an h x w image resized so its long side is ``side`` (>= 1 px each)."""
    scale = side / max(h, w)
    return max(1, int(round(h * scale))), max(1, int(round(w * scale)))


def pad_to_square(t: torch.Tensor, side: int) -> tuple[torch.Tensor, int, int]:
    """Centre a 3 x h x w tensor (h, w <= side) on a black side x side square; (square, top, left)."""
    _, h, w = t.shape
    top, left = (side - h) // 2, (side - w) // 2
    square = t.new_zeros((3, side, side))
    square[:, top : top + h, left : left + w] = t
    return square, top, left


def square_box(region_box: Box, spec: PreprocessSpec) -> Box:
    """The square of the full image (may extend past its edges) that a padded input covers."""
    x0, y0, x1, y1 = region_box
    side = max(x1 - x0, y1 - y0)
    left, top = x0 - (side - (x1 - x0)) // 2, y0 - (side - (y1 - y0)) // 2
    return left, top, left + side, top + side


def _prepare_padded(image: LoadedImage, spec: PreprocessSpec) -> tuple[torch.Tensor, Box]:
    pixels, region_box = region_pixels(image, spec)
    h, w = pixels.shape[:2]
    # Resize first, then pad: a 1 x 20000 strip never becomes a 20000 x 20000 array.
    t = TF.resize(to_float_tensor(pixels), list(fit_size(h, w, spec.crop)), antialias=True)
    t, _, _ = pad_to_square(t, spec.crop)
    return normalize(t, spec), square_box(region_box, spec)


def check_resized_size(image: LoadedImage, h: int, w: int, spec: PreprocessSpec) -> None:
    """Before resizing the short side to ``resize`` (centre-crop framing): refuse a strip whose
    long side would then exceed ``MAX_ASPECT`` x ``resize`` (a 1 x 20000 image would become
    256 x 5,120,000: 15.7 GB of floats). The pad-to-square framing resizes the long side and
    needs no cap. ``core.imaging`` refuses such strips when reading files; this guards every
    other caller of ``prepare``."""
    if max(h, w) > MAX_ASPECT * max(1, min(h, w)):
        raise ImageReadError(
            image.ref.path,
            f"the part of the image the model sees is {w}x{h} pixels: an aspect ratio over "
            f"{MAX_ASPECT}:1 cannot be resized to a {spec.resize} px short side and centre-"
            "cropped (not an ultrasound picture)",
        )


def prepare(image: LoadedImage, spec: PreprocessSpec) -> tuple[torch.Tensor, Box]:
    """Model input (3 x crop x crop float32) and the box of the full image it covers (with the
    pad-to-square framing the box may reach past the image's edges: that part is padding)."""
    if spec.sees_whole_region:
        return _prepare_padded(image, spec)
    pixels, (rx0, ry0, _, _) = region_pixels(image, spec)
    h, w = pixels.shape[:2]
    check_resized_size(image, h, w, spec)
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
