"""The backend interface: a runtime that turns a prepared batch into ``ForwardOutputs``."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ..errors import CNSightError
from .outputs import ForwardOutputs


class BackendUnavailable(CNSightError):
    """A backend that cannot run here (its package missing, the CPU lacking an instruction
    set, the wrong device); the message says why and what to use instead."""


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
