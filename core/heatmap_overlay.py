"""Heatmaps on screen and on paper: upsampling, colouring, overlay, legend (numpy + OpenCV only).

This is the half of the heatmap code that needs no torch: the app's GUI thread and the
report/CLI writers use it, so it must stay importable without loading the model stack
(the import-linter contract "desktop never imports torch" in pyproject.toml relies on it).
The maps themselves come from ``core.heatmaps`` (torch), run by whoever runs the model.

It also names the heatmap methods and the overlay's default opacity, once for everyone.
"""

from __future__ import annotations

import cv2
import numpy as np

from .records import Box

#: The free forward-pass class-activation map (``core.heatmaps.cams_from_features``).
FORWARD_CAM = "cam"
#: Methods of the ``grad-cam`` package, computed on request (need a backward pass):
#: method name -> (label shown to users, class in ``pytorch_grad_cam``).
GRAD_CAM_METHODS: dict[str, tuple[str, str]] = {
    "gradcam": ("Grad-CAM", "GradCAM"),
    "gradcam++": ("Grad-CAM++", "GradCAMPlusPlus"),
    "scorecam": ("Score-CAM", "ScoreCAM"),
    "eigencam": ("Eigen-CAM", "EigenCAM"),
    "layercam": ("Layer-CAM", "LayerCAM"),
}
CAM_METHODS = tuple(GRAD_CAM_METHODS)
#: What the app offers, in menu order: the free CAM first, then the grad-cam methods except
#: Grad-CAM itself, which on ``layer4`` equals the free CAM (``core.heatmaps`` docstring).
APP_HEATMAP_METHODS: dict[str, str] = {FORWARD_CAM: "CAM (instant)"} | {
    name: label for name, (label, _cls) in GRAD_CAM_METHODS.items() if name != "gradcam"
}

DEFAULT_OPACITY = 0.45  # strong enough to see the map, weak enough to see the anatomy under it
HEATMAP_COLORMAP = cv2.COLORMAP_JET
SCALE_EPS = 1e-7  # same epsilon as pytorch_grad_cam.utils.image.scale_cam_image


def upsample(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an h x w map to (width, height) bilinearly, then min-max scale again.

    Exactly grad-cam's post-processing: bilinear upsampling rarely lands on the grid's
    extreme values, so it scales to [0, 1] a second time after resizing.
    """
    big = cv2.resize(cam.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    big -= big.min()
    return big / (SCALE_EPS + big.max())


def colour_levels(levels: np.ndarray, colormap: int = HEATMAP_COLORMAP) -> np.ndarray:
    """h x w uint8 levels (0 = low, 255 = high) -> h x w x 3 RGB uint8: the one colouring."""
    return np.ascontiguousarray(cv2.applyColorMap(levels, colormap)[..., ::-1])


def colour_map(values: np.ndarray, colormap: int = HEATMAP_COLORMAP) -> np.ndarray:
    """An h x w map in [0, 1] -> h x w x 3 RGB uint8 (clipped, then 256 levels)."""
    return colour_levels(np.uint8(np.clip(values, 0, 1) * 255), colormap)


def place_cam(
    cam: np.ndarray, box: Box, image_shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The map upsampled to the model's input ``box`` and clipped to the image.

    Returns the visible part (values in [0, 1]) and its top-left corner in image pixels, or
    None when the box lies outside the image. ``box`` may reach past the image edges (a crop
    larger than the image), hence the clipping.
    """
    h, w = image_shape
    x0, y0, x1, y1 = box
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    full = upsample(cam, (x1 - x0, y1 - y0))[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return full, (cx0, cy0)


#: The heatmap is transparent where the map is below this fraction of its maximum and fully
#: drawn from HEATMAP_OPAQUE_FROM up: the low end of the colour map (blue) then never tints
#: the whole image, and what shows is where the model looked. One definition for the app's
#: viewer, its PDF report and the CLI's overlays.
HEATMAP_TRANSPARENT_BELOW = 0.2
HEATMAP_OPAQUE_FROM = 0.5


def heatmap_alpha(values: np.ndarray) -> np.ndarray:
    """0..1 coverage of a [0, 1] map: 0 below the transparent end, a linear ramp, then 1."""
    span = HEATMAP_OPAQUE_FROM - HEATMAP_TRANSPARENT_BELOW
    return np.clip((values - HEATMAP_TRANSPARENT_BELOW) / span, 0.0, 1.0)


def render_overlay(
    pixels: np.ndarray,
    cam: np.ndarray,
    box: Box,
    opacity: float = DEFAULT_OPACITY,
    colormap: int = HEATMAP_COLORMAP,
) -> np.ndarray:
    """Blend a [0, 1] map over H x W x 3 uint8 pixels inside ``box`` (where the model looked),
    with the transparent low end of ``heatmap_alpha`` so low activations do not tint the image.
    """
    out = pixels.copy()
    placed = place_cam(cam, box, pixels.shape[:2])
    if placed is None:
        return out
    full, (cx0, cy0) = placed
    cy1, cx1 = cy0 + full.shape[0], cx0 + full.shape[1]
    colour = colour_map(full, colormap).astype(np.float32)
    alpha = (opacity * heatmap_alpha(full))[..., None].astype(np.float32)
    region = out[cy0:cy1, cx0:cx1].astype(np.float32)
    blended = region * (1 - alpha) + colour * alpha
    out[cy0:cy1, cx0:cx1] = np.uint8(np.clip(np.rint(blended), 0, 255))
    return out


def colormap_legend(
    width: int = 256, height: int = 12, colormap: int = HEATMAP_COLORMAP
) -> np.ndarray:
    """A horizontal colour bar (low -> high) matching ``render_overlay``, as RGB uint8."""
    return colour_levels(np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1)), colormap)
