"""torch backends: eager (the reference every other backend is tested against) and
channels_last (the same arithmetic in NHWC memory layout, which oneDNN's CPU convolutions and
cuDNN's tensor cores prefer: docs/performance.md has the measured ratio)."""

from __future__ import annotations

import torch

from ..bundle import ModelBundle
from .base import Backend
from .outputs import ForwardOutputs, MultiOutputNet


class TorchEager(Backend):
    name = "torch"

    def __init__(self, bundle: ModelBundle, device: torch.device):
        self.device = device
        stages = () if bundle.feature_domain is None else bundle.feature_domain.network_stage_names
        self.net = MultiOutputNet(bundle.model.to(device).eval(), stages)
        self._prepare_net()

    def _prepare_net(self) -> None:
        """Hook for subclasses that change the network's layout or precision."""

    def _prepare_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return batch

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> ForwardOutputs:
        return self.net.unpack(self.net(self._prepare_batch(batch)))


class TorchChannelsLast(TorchEager):
    name = "torch-channels-last"

    def _prepare_net(self) -> None:
        # In place: the bundle's network is this Predictor's own (every Predictor loads one).
        self.net.to(memory_format=torch.channels_last)

    def _prepare_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.contiguous(memory_format=torch.channels_last)
