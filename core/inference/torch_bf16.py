"""bf16 autocast on the CPU: only where the CPU has bf16 instructions (AVX512-BF16 or AMX);
elsewhere oneDNN emulates bf16 and it is slower than fp32, so the backend refuses to start.

Reduced precision changes the numbers: its agreement with fp32 is measured by ``python -m
bench`` (docs/performance.md) and it is never the default."""

from __future__ import annotations

from pathlib import Path

import torch

from .base import BackendUnavailable
from .outputs import ForwardOutputs
from .torch_eager import TorchChannelsLast

#: /proc/cpuinfo flags that mean native bf16 matrix arithmetic.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_bf16() -> bool:
    return any(f in cpu_flags() for f in BF16_FLAGS)


class TorchBf16(TorchChannelsLast):
    name = "torch-bf16"
    precision = "bf16"

    def __init__(self, bundle, device: torch.device):
        if device.type == "cpu" and not cpu_has_bf16():
            raise BackendUnavailable(
                "the torch-bf16 backend needs a CPU with bf16 instructions (flags "
                f"{' or '.join(BF16_FLAGS)}); this one has none, so bf16 would be emulated and "
                "slower than fp32: use --backend auto"
            )
        super().__init__(bundle, device)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> ForwardOutputs:
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            out = self.net.unpack(self.net(self._prepare_batch(batch)))
        # The Predictor's arithmetic after the pass (softmax, CAMs, distances) stays fp32.
        return ForwardOutputs(
            out.logits.float(), out.features.float(),
            {s: f.float() for s, f in out.stages.items()},
            None if out.plane_logits is None else out.plane_logits.float(),
        )  # fmt: skip
