"""What one forward pass gives the Predictor, whichever runtime ran it.

Every backend returns the same ``ForwardOutputs`` from ONE pass over a batch: the class logits,
the heatmap layer's feature map (the class-activation maps are a small product of it with the
class head's weights, ``core.heatmaps``), each out-of-distribution stage's pooled features
(``core.feature_domain``) and the plane head's logits. So heatmaps, the domain score and the
plane stay free on every runtime, and the Predictor's arithmetic after the pass is one code path.

``MultiOutputNet`` is that pass written out for the torchvision ResNets a bundle may name
(``core.model.ARCHITECTURES``): the same modules in the same order as ``ResNet.forward``,
with the intermediate outputs returned instead of caught by hooks, so it exports to ONNX as a
graph with all of them as outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..model import HEATMAP_LAYER, plane_head

#: The residual stages of a torchvision ResNet, in forward order.
RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")


@dataclass(frozen=True)
class ForwardOutputs:
    """One batch's outputs (float32 CPU or device tensors, batch first)."""

    logits: torch.Tensor  # B x K raw class logits (before temperature and softmax)
    features: torch.Tensor  # B x C x h x w output of the heatmap layer (layer4)
    stages: dict[str, torch.Tensor]  # stage -> B x C global average; the heatmap layer included
    plane_logits: torch.Tensor | None  # B x P, or None without a plane head


class MultiOutputNet(torch.nn.Module):
    """A ResNet's forward that returns (logits, layer4 map, pooled stages..., [plane logits]).

    ``stages``: the stages whose global average is returned (besides ``layer4``, whose pooled
    features are also the class head's input), in this order.
    """

    def __init__(self, net: torch.nn.Module, stages: Sequence[str] = ()):
        super().__init__()
        net = getattr(net, "module", net)
        unknown = [s for s in stages if s not in RESNET_STAGES]
        if unknown:
            raise ValueError(f"not a stage of a ResNet: {', '.join(unknown)}")
        self.net = net
        self.stage_names = tuple(s for s in dict.fromkeys(stages) if s != HEATMAP_LAYER)
        self.has_plane = plane_head(net) is not None

    @property
    def output_names(self) -> tuple[str, ...]:
        names = ("logits", "features", *(f"pooled_{s}" for s in self.stage_names), "pooled_layer4")
        return names + (("plane_logits",) if self.has_plane else ())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        pooled = []
        for name in RESNET_STAGES:
            x = getattr(n, name)(x)
            if name in self.stage_names:
                pooled.append(x.mean(dim=(2, 3)))
        features = x
        head_input = torch.flatten(n.avgpool(features), 1)  # what ResNet.forward feeds fc
        outputs = (n.fc(head_input), features, *pooled, head_input)
        if self.has_plane:
            outputs += (plane_head(n)(head_input),)
        return outputs

    def unpack(self, outputs: Sequence[torch.Tensor]) -> ForwardOutputs:
        """The tuple ``forward`` (or the exported graph) returns, named."""
        k = len(self.stage_names)
        stages = dict(zip(self.stage_names, outputs[2 : 2 + k], strict=True))
        stages[HEATMAP_LAYER] = outputs[2 + k]
        plane = outputs[3 + k] if self.has_plane else None
        return ForwardOutputs(outputs[0], outputs[1], stages, plane)
