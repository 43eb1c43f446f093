"""Heatmaps: class-activation maps from the forward pass, other CAM methods on request,
and rendering over the displayed image.

Why the forward pass suffices (DESIGN "Heatmaps for free"): for a ResNet, Grad-CAM on
``layer4`` with the raw logit of class k as target weights each channel by the mean of
d logit_k / d A = W_fc[k] / (H*W), a constant over space. So Grad-CAM_k = ReLU(W_fc[k] . A)
up to a positive factor, which min-max scaling removes. One small matrix product over the
7x7x512 features gives the maps of every class; no backward pass.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .records import Box

#: Extra methods from the ``grad-cam`` package, computed on request (need a backward pass).
CAM_METHODS = ("gradcam", "gradcam++", "scorecam", "eigencam", "layercam")
_EPS = 1e-7  # same epsilon as pytorch_grad_cam.utils.image.scale_cam_image


def cams_from_features(features: torch.Tensor, fc_weight: torch.Tensor) -> np.ndarray:
    """B x C x h x w features, K x C fc weights -> B x K x h x w maps, ReLU'd, min-max scaled."""
    cams = torch.einsum("kc,bchw->bkhw", fc_weight.to(features.dtype), features).relu_()
    flat = cams.flatten(2)
    lo = flat.amin(dim=2, keepdim=True)
    hi = (flat - lo).amax(dim=2, keepdim=True)
    flat = (flat - lo) / (hi + _EPS)
    return flat.view_as(cams).float().cpu().numpy()


def upsample(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an h x w map to (width, height) bilinearly, then min-max scale again.

    Exactly grad-cam's post-processing: bilinear upsampling rarely lands on the grid's
    extreme values, so it scales to [0, 1] a second time after resizing.
    """
    big = cv2.resize(cam.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    big -= big.min()
    return big / (_EPS + big.max())


def _cam_class(method: str):
    import pytorch_grad_cam as pgc  # slow import (~5 s): only when a user asks for it

    classes = {
        "gradcam": pgc.GradCAM,
        "gradcam++": pgc.GradCAMPlusPlus,
        "scorecam": pgc.ScoreCAM,
        "eigencam": pgc.EigenCAM,
        "layercam": pgc.LayerCAM,
    }
    try:
        return classes[method]
    except KeyError:
        raise ValueError(
            f"unknown heatmap method {method!r}; choose from {', '.join(CAM_METHODS)}"
        ) from None


def compute_cam(
    model: torch.nn.Module,
    input_tensor: torch.Tensor,
    class_index: int,
    method: str = "gradcam",
    layer: str = "layer4",
) -> np.ndarray:
    """One heatmap (crop x crop, in [0, 1]) by a ``grad-cam`` method for one class.

    The CAM object is created and released here (its hooks removed by the context manager),
    so this is safe to call from any one thread; never share CAM objects between threads.
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam_class = _cam_class(method)
    target_layer = _resolve_layer(model, layer)
    batch = input_tensor.unsqueeze(0) if input_tensor.ndim == 3 else input_tensor
    with torch.enable_grad(), cam_class(model=model, target_layers=[target_layer]) as cam:
        out = cam(input_tensor=batch, targets=[ClassifierOutputTarget(class_index)])
    return out[0].astype(np.float32)


def _resolve_layer(model: torch.nn.Module, layer: str) -> torch.nn.Module:
    """``layer4`` means the last block of layer4 (as grad-cam users write it)."""
    try:
        module = model.get_submodule(layer)
    except AttributeError:
        raise ValueError(f"model has no layer {layer!r}") from None
    if isinstance(module, torch.nn.Sequential):
        module = module[-1]
    return module


def render_overlay(
    pixels: np.ndarray,
    cam: np.ndarray,
    box: Box,
    opacity: float = 0.45,
    colormap: int = cv2.COLORMAP_JET,
    threshold: float = 0.0,
) -> np.ndarray:
    """Blend a [0, 1] map over H x W x 3 uint8 pixels inside ``box`` (where the model looked).

    Values below ``threshold`` are left transparent so low activations do not tint the image.
    """
    out = pixels.copy()
    x0, y0, x1, y1 = box
    h, w = pixels.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return out
    full = upsample(cam, (x1 - x0, y1 - y0))[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    colour = cv2.applyColorMap(np.uint8(np.clip(full, 0, 1) * 255), colormap)[..., ::-1]
    alpha = (opacity * (full >= threshold))[..., None].astype(np.float32)
    region = out[cy0:cy1, cx0:cx1].astype(np.float32)
    out[cy0:cy1, cx0:cx1] = np.uint8(np.clip(region * (1 - alpha) + colour * alpha, 0, 255))
    return out


def colormap_legend(
    width: int = 256, height: int = 12, colormap: int = cv2.COLORMAP_JET
) -> np.ndarray:
    """A horizontal colour bar (low -> high) matching ``render_overlay``, as RGB uint8."""
    ramp = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    return cv2.applyColorMap(ramp, colormap)[..., ::-1].copy()
