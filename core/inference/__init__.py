"""Inference backends: the runtimes a Predictor can run its bundle's network on.

Every backend gives the same ``ForwardOutputs`` (logits, the heatmap layer's map, the domain
stages' pooled features, plane logits) from one pass, so heatmaps, the out-of-distribution
score and the plane come with every one of them. Agreement with ``torch`` (eager, the
reference) is tested: tests/core/test_inference.py, tolerances in ``FP32_TOLERANCE``.

``auto`` is the fastest backend that agrees, decided by measurement (``python -m bench``,
docs/performance.md): on the CPU ONNX Runtime fp32, else (its package missing, or its export
failing) torch channels_last; on a GPU torch channels_last. Reduced precision (``torch-bf16``,
``onnxruntime-int8``) changes the numbers more than the tolerance and is never chosen by
``auto``. This module imports no torch: the app's settings and the CLI's ``--help`` list the
names without loading the model stack.
"""

from __future__ import annotations

import logging

from .names import (
    AUTO,
    BACKENDS,
    DEFAULT_BACKEND,
    FP32_TOLERANCE,
    add_backend_argument,
    check_backend_name,
)

__all__ = [
    "AUTO", "BACKENDS", "DEFAULT_BACKEND", "FP32_TOLERANCE", "add_backend_argument",
    "check_backend_name", "make_backend",
]  # fmt: skip

log = logging.getLogger(f"cnsight.{__name__}")


def make_backend(name: str, bundle, device):
    """The backend ``name`` for ``bundle`` on ``device`` (a torch.device). ``auto`` falls back
    to torch channels_last when ONNX Runtime cannot run here, with a warning saying why; an
    explicitly named backend that cannot run raises ``BackendUnavailable``."""
    from ..errors import BackendUnavailable

    check_backend_name(name)
    if name == AUTO:
        if device.type != "cpu":
            return _construct("torch-channels-last", bundle, device)
        try:
            return _construct("onnxruntime", bundle, device)
        except (BackendUnavailable, OSError, RuntimeError) as exc:
            log.warning("ONNX Runtime not used (%s); running torch channels_last", exc)
            return _construct("torch-channels-last", bundle, device)
    return _construct(name, bundle, device)


def _construct(name: str, bundle, device):
    if name == "torch":
        from .torch_eager import TorchEager as cls
    elif name == "torch-channels-last":
        from .torch_eager import TorchChannelsLast as cls
    elif name == "torch-bf16":
        from .torch_bf16 import TorchBf16 as cls
    elif name == "onnxruntime":
        from .onnx_runtime import OnnxRuntime as cls
    else:
        from .onnx_int8 import OnnxRuntimeInt8 as cls
    return cls(bundle, device)
