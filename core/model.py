"""The classifier network. ResNet34 as in the published study (torchvision definition), with an
optional plane head: a linear layer on the same pooled features the class head (``fc``) reads,
so the plane costs no extra forward pass.

The network's ``forward`` still returns the class logits only, so grad-cam, export and every
caller see a plain torchvision ResNet; the pooled features (``fc``'s input) are the global
average of the ``layer4`` output, which callers capture with a forward hook (``FeatureTap``)."""

from __future__ import annotations

from collections.abc import Sequence

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
PLANE_HEAD = "plane_head"


def build_model(architecture: str, num_classes: int, num_planes: int = 0) -> torch.nn.Module:
    """An untrained network of the given architecture with ``num_classes`` outputs, plus a
    ``plane_head`` with ``num_planes`` outputs when ``num_planes`` > 0."""
    try:
        factory = ARCHITECTURES[architecture]
    except KeyError:
        raise BundleError(
            f"unknown architecture {architecture!r}; supported: {', '.join(ARCHITECTURES)}"
        ) from None
    model = factory(weights=None, num_classes=num_classes)
    if num_planes > 0:
        setattr(model, PLANE_HEAD, torch.nn.Linear(model.fc.in_features, num_planes))
    return model


def plane_head(model: torch.nn.Module) -> torch.nn.Linear | None:
    """The network's plane head, or None (also through a DistributedDataParallel wrapper)."""
    return getattr(getattr(model, "module", model), PLANE_HEAD, None)


class FeatureTap:
    """Keeps the output of one layer (``layer4``) of every forward pass, for the heatmaps, the
    pooled features (out-of-distribution score) and the plane head. A reference, not a copy;
    gradients flow through it in training. ``stages``: other layers whose global average is
    also kept (the out-of-distribution score's earlier stages; pooled as they pass, so no
    feature map is held). Remove with ``close()`` or a ``with`` block."""

    def __init__(
        self, model: torch.nn.Module, layer: str = HEATMAP_LAYER, stages: Sequence[str] = ()
    ):
        net = getattr(model, "module", model)
        self.layer = layer
        self.output: torch.Tensor | None = None
        self._stage_pooled: dict[str, torch.Tensor] = {}
        self._hooks = [net.get_submodule(layer).register_forward_hook(self._keep)]
        for stage in dict.fromkeys(stages):
            if stage != layer:
                hook = net.get_submodule(stage).register_forward_hook(self._pool_as(stage))
                self._hooks.append(hook)

    def _keep(self, _module, _inputs, output) -> None:
        self.output = output

    def _pool_as(self, stage: str):
        def pool(_module, _inputs, output) -> None:
            self._stage_pooled[stage] = output.mean(dim=(2, 3))

        return pool

    def pooled(self) -> torch.Tensor:
        """B x C global average of the kept map: exactly the input of the class head ``fc``."""
        if self.output is None:
            raise RuntimeError("no forward pass since the tap was set")
        return self.output.mean(dim=(2, 3))

    def stage_features(self) -> dict[str, torch.Tensor]:
        """Every tapped stage's B x C global average (``layer`` included), from the last pass."""
        return {**self._stage_pooled, self.layer: self.pooled()}

    def clear(self) -> None:
        """Drop the kept outputs (they reference the batch's tensors)."""
        self.output = None
        self._stage_pooled = {}

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()

    def __enter__(self) -> FeatureTap:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
