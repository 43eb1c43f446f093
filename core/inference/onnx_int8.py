"""int8 static quantisation with ONNX Runtime (``quantize_static``, QDQ format, per-channel
weights), calibrated on images the caller gives: ``python -m bench`` calibrates on phantom
images (core never imports the phantom generator). Measured, never the default: on a CPU
without VNNI the int8 kernels gain little and the numbers move well beyond the fp32
tolerance (docs/performance.md, "Reduced precision").

The quantised graph is cached beside the fp32 one, keyed on the weights sha256 and the
calibration's name; the backend refuses to start when no calibrated graph exists yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from ..bundle import ModelBundle
from .base import BackendUnavailable
from .export_cache import cache_root, cached_path, is_intact, write_atomically
from .onnx_runtime import OnnxRuntime, ensure_export, export_recipe, import_onnxruntime
from .outputs import MultiOutputNet

CALIBRATION_NAME = "phantoms-v1"


def int8_path(bundle: ModelBundle, net: MultiOutputNet, root: Path | None = None) -> Path:
    recipe = export_recipe(net, bundle.card.preprocessing.crop) | {
        "int8": "qdq-per-channel-minmax",
        "calibration": CALIBRATION_NAME,
    }
    return cached_path("onnx-int8", bundle.card.weights_sha256, recipe, root or cache_root())


def _net(bundle: ModelBundle) -> MultiOutputNet:
    stages = () if bundle.feature_domain is None else bundle.feature_domain.network_stage_names
    return MultiOutputNet(bundle.model.eval(), stages)


def calibrate_int8(bundle: ModelBundle, batches: Iterable[torch.Tensor]) -> Path:
    """Quantise the bundle's fp32 graph on ``batches`` (prepared model inputs) and cache it."""
    import_onnxruntime()
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    net = _net(bundle)
    fp32 = ensure_export(bundle, net, bundle.card.preprocessing.crop)
    feeds = [{"input": np.ascontiguousarray(b.numpy(), np.float32)} for b in batches]
    if not feeds:
        raise ValueError("int8 calibration needs at least one batch of images")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    def produce(tmp: Path) -> None:
        quantize_static(
            str(fp32), str(tmp), Reader(), quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
        )  # fmt: skip

    path = int8_path(bundle, net)
    meta = {"weights_sha256": bundle.card.weights_sha256, "calibration": CALIBRATION_NAME,
            "calibration_images": int(sum(f["input"].shape[0] for f in feeds))}  # fmt: skip
    return write_atomically(path, produce, meta)


class OnnxRuntimeInt8(OnnxRuntime):
    name = "onnxruntime-int8"
    precision = "int8"

    def _graph(self, bundle: ModelBundle, crop: int) -> Path:
        path = int8_path(bundle, self.net)
        if not is_intact(path):
            raise BackendUnavailable(
                "no int8 graph calibrated for this bundle yet (weights "
                f"{bundle.card.weights_sha256[:12]}); `python -m bench int8 --model BUNDLE` "
                "calibrates one on phantom images, or use --backend auto"
            )
        return path
