"""ONNX Runtime backends: the bundle's network exported once (per weights sha256) to a graph
whose outputs are everything the Predictor reads (``MultiOutputNet``), run by ONNX Runtime's
CPU provider. fp32 agrees with torch to float rounding (tests/core/test_inference.py); the
int8 variant (``onnx_int8``) is a measured, non-default option.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ..bundle import ModelBundle
from .base import Backend, BackendUnavailable
from .export_cache import cached_path, is_intact, write_atomically
from .outputs import ForwardOutputs, MultiOutputNet

log = logging.getLogger(f"cnsight.{__name__}")

#: Bump when the exported graph changes (outputs, opset, exporter): old files are then unused.
EXPORT_VERSION = 1
OPSET = 18

#: ONNX Runtime's intra-op threads spin-wait for more work after every run by default. Here
#: that busy-waiting takes the very cores the app's GUI thread and the CLI's decoder threads
#: need between batches (two cores on a reading workstation is common). Off: the threads sleep
#: when a run ends. Measured side by side in docs/performance.md (bench/gui_stall.py
#: --ort-spinning on|off).
ALLOW_SPINNING = False


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailable(
            f"the onnxruntime backend needs the onnxruntime package, which cannot be imported "
            f"({exc}); install it (pip install onnxruntime) or use --backend torch"
        ) from None
    return onnxruntime


def export_recipe(net: MultiOutputNet, crop: int) -> dict:
    return {
        "version": EXPORT_VERSION,
        "opset": OPSET,
        "outputs": list(net.output_names),
        "input": [3, crop, crop],
        "torch": torch.__version__.split("+")[0],
    }


def export_onnx(net: MultiOutputNet, crop: int, path: Path) -> None:
    """Export ``net`` to ONNX at ``path``: torch.export-based (``dynamo=True``, the exporter
    torch supports; the TorchScript one is deprecated), batch dimension dynamic, weights inside
    the one file (85 MB for ResNet34), ONNX-script's graph optimisation applied."""
    example = torch.zeros(2, 3, crop, crop)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        torch.onnx.export(
            net.cpu().eval(), (example,), str(path), input_names=["input"],
            output_names=list(net.output_names), dynamic_shapes=({0: batch},),
            opset_version=OPSET, dynamo=True, external_data=False, optimize=True, verbose=False,
        )  # fmt: skip


def ensure_export(bundle: ModelBundle, net: MultiOutputNet, crop: int) -> Path:
    """The bundle's fp32 graph from the cache, exported first if absent or not intact."""
    recipe = export_recipe(net, crop)
    path = cached_path("onnx", bundle.card.weights_sha256, recipe)
    if is_intact(path):
        return path
    if path.exists():
        log.warning("cached export %s is damaged or incomplete; exporting again", path)
    log.info("exporting %s to ONNX (once per weights): %s", bundle.card.name, path)
    meta = recipe | {"weights_sha256": bundle.card.weights_sha256, "bundle": bundle.card.name}
    return write_atomically(path, lambda tmp: export_onnx(net, crop, tmp), meta)


def session_options(ort):
    opts = ort.SessionOptions()
    # The thread budget is the caller's torch setting (the app keeps a core for the GUI).
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    spin = "1" if ALLOW_SPINNING else "0"
    opts.add_session_config_entry("session.intra_op.allow_spinning", spin)
    opts.add_session_config_entry("session.inter_op.allow_spinning", spin)
    return opts


class OnnxRuntime(Backend):
    name = "onnxruntime"

    def __init__(self, bundle: ModelBundle, device: torch.device):
        if device.type != "cpu":
            raise BackendUnavailable(
                f"the {self.name} backend runs on the CPU only (device {device} was chosen): use "
                "--device cpu, or --backend torch / torch-channels-last on a GPU"
            )
        ort = import_onnxruntime()
        stages = () if bundle.feature_domain is None else bundle.feature_domain.network_stage_names
        self.net = MultiOutputNet(bundle.model.eval(), stages)
        crop = bundle.card.preprocessing.crop
        self.path = self._graph(bundle, crop)
        try:
            self.session = self._session(ort, self.path)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own types for a bad file
            log.warning("cached graph %s does not load (%s); exporting again", self.path, exc)
            self.path.with_suffix(".json").unlink(missing_ok=True)
            self.path = self._graph(bundle, crop)
            self.session = self._session(ort, self.path)
        self._names = [o.name for o in self.session.get_outputs()]
        if tuple(self._names) != self.net.output_names:
            raise BackendUnavailable(f"the graph {self.path} has outputs {self._names}")

    def _graph(self, bundle: ModelBundle, crop: int) -> Path:
        return ensure_export(bundle, self.net, crop)

    def _session(self, ort, path: Path):
        return ort.InferenceSession(
            str(path), session_options(ort), providers=["CPUExecutionProvider"]
        )

    def forward(self, batch: torch.Tensor) -> ForwardOutputs:
        x = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        outputs = self.session.run(self._names, {"input": x})
        return self.net.unpack([torch.from_numpy(o) for o in outputs])

    def close(self) -> None:
        self.session = None
