"""The classifier network. ResNet34 as in the published study (torchvision definition)."""

from __future__ import annotations

import torch
from torchvision import models

from .errors import BundleError

#: Architectures a bundle may name, and the module whose output the heatmaps use.
ARCHITECTURES = {
    "resnet18": models.resnet18,
    "resnet34": models.resnet34,
    "resnet50": models.resnet50,
}
HEATMAP_LAYER = "layer4"


def build_model(architecture: str, num_classes: int) -> torch.nn.Module:
    """An untrained network of the given architecture with ``num_classes`` outputs."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        raise BundleError(
            f"unknown architecture {architecture!r}; supported: {', '.join(ARCHITECTURES)}"
        ) from None
    return factory(weights=None, num_classes=num_classes)


def pick_device(requested: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU. An explicit device that is absent is an error."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            "CUDA was requested but no CUDA device is available (use --device cpu or auto)"
        )
    if requested not in ("cpu",) and not requested.startswith(("cuda", "mps")):
        raise ValueError(f"unknown device {requested!r}: use auto, cpu, cuda or cuda:N")
    return torch.device(requested)
