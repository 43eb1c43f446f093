"""Heatmaps (torch): class-activation maps from the forward pass, other CAM methods on request.

Showing a map over an image (upsampling, colouring, overlay, legend) needs no torch and lives
in ``core.heatmap_overlay``, with the method names; this module is for whoever runs the model.

Why the forward pass suffices (docs/design.md §3, "Heatmaps for free"): for a ResNet, Grad-CAM on
``layer4`` with the raw logit of class k as target weights each channel by the mean of
d logit_k / d A = W_fc[k] / (H*W), a constant over space. So Grad-CAM_k = ReLU(W_fc[k] . A)
up to a positive factor, which min-max scaling removes. One small matrix product over the
7x7x512 features gives the maps of every class; no backward pass.
"""

from __future__ import annotations

import numpy as np
import torch

from .heatmap_overlay import CAM_METHODS, GRAD_CAM_METHODS, SCALE_EPS


def cams_from_features(features: torch.Tensor, fc_weight: torch.Tensor) -> np.ndarray:
    """B x C x h x w features, K x C fc weights -> B x K x h x w maps, ReLU'd, min-max scaled."""
    cams = torch.einsum("kc,bchw->bkhw", fc_weight.to(features.dtype), features).relu_()
    flat = cams.flatten(2)
    lo = flat.amin(dim=2, keepdim=True)
    hi = (flat - lo).amax(dim=2, keepdim=True)
    flat = (flat - lo) / (hi + SCALE_EPS)
    return flat.view_as(cams).float().cpu().numpy()


def _cam_class(method: str):
    if method not in GRAD_CAM_METHODS:
        raise ValueError(f"unknown heatmap method {method!r}; choose from {', '.join(CAM_METHODS)}")
    import pytorch_grad_cam as pgc  # slow import (~5 s): only when a user asks for it

    return getattr(pgc, GRAD_CAM_METHODS[method][1])


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
