"""The backend interface: a runtime that turns a prepared batch into ``ForwardOutputs``."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ..errors import BackendUnavailable
from .outputs import ForwardOutputs

__all__ = ["Backend", "BackendUnavailable"]


class Backend(ABC):
    """Runs one bundle's network. ``name`` is what runs are recorded with (images.csv, the
    app's report); ``precision`` says what arithmetic it uses (fp32, bf16, int8)."""

    name: str = ""
    precision: str = "fp32"

    @abstractmethod
    def forward(self, batch: torch.Tensor) -> ForwardOutputs:
        """B x 3 x H x W float32 (on the Predictor's device) -> outputs of one pass."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release what the backend holds (sessions, hooks)."""

    def describe(self) -> str:
        return self.name if self.precision == "fp32" else f"{self.name} ({self.precision})"
