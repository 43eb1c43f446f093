"""The backends' names, the default and the ``--backend`` option: no torch here (nor in
anything it imports), so the app's GUI (its settings, its menu) and a CLI's ``--help`` can
use them without loading the model stack (import-linter: "the app's GUI never imports torch").
"""

from __future__ import annotations

AUTO = "auto"
#: name -> what it is (the CLI's help and the app's settings menu).
BACKENDS: dict[str, str] = {
    AUTO: "the fastest that agrees with torch (measured: ONNX Runtime on the CPU)",
    "torch": "torch eager, fp32 (the reference)",
    "torch-channels-last": "torch, channels_last memory layout, fp32",
    "onnxruntime": "ONNX Runtime, fp32 (CPU)",
    "torch-bf16": "torch bf16 autocast (CPUs with AVX512-BF16/AMX, or a GPU); not exact",
    "onnxruntime-int8": "ONNX Runtime, int8 static quantisation (CPU); not exact",
}
DEFAULT_BACKEND = AUTO
#: fp32 backends agree with torch eager within these (tests and ``python -m bench``).
FP32_TOLERANCE = {"probs_atol": 1e-4, "ood_score_rtol": 1e-3, "cam_correlation": 0.99}


def add_backend_argument(parser) -> None:
    """``--backend`` for a command that runs a Predictor (cnsight-predict, cnsight-eval): an
    unknown name is argparse's usage error (exit code 2)."""
    parser.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        choices=list(BACKENDS),
        metavar="NAME",
        help="what runs the network: "
        + "; ".join(f"{n} = {what}" for n, what in BACKENDS.items())
        + f" (default {DEFAULT_BACKEND}; docs/performance.md)",
    )


def check_backend_name(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose from {', '.join(BACKENDS)}")
    return name
