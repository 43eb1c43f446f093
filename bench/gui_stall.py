"""Longest GUI event-loop stall while the real main window analyses a 30-image study.

A 5 ms QTimer on the GUI thread records the time between its ticks; a tick that comes late
means the event loop was blocked (or starved of the GIL / a CPU). Two phases are measured:
loading the model (the worker thread imports torch and reads the weights) and opening +
predicting the study. Runs offscreen.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_stall.py [--model BUNDLE] [--images 30]
        [--format png|dicom]

Default model: resources/demo_model if present, else an untrained ResNet34 bundle at 224 px
(the same compute as a trained one). The study: synthetic phantom PNGs (phantoms).
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TICK_MS = 5

log = logging.getLogger("gui_stall")


def make_study(out: Path, n_images: int, fmt: str = "png") -> Path:
    """A phantom study trimmed to exactly ``n_images`` rows of its manifest (for DICOM a row
    may be a cine, so the study then has more images than rows)."""
    from phantoms.phantom_set import generate_phantom_set

    manifest = generate_phantom_set(out, n_patients=max(1, n_images // 4), seed=7, fmt=fmt)
    rows = list(csv.DictReader(manifest.open()))[:n_images]
    if len(rows) < n_images:
        raise SystemExit(f"phantom study has only {len(rows)} images")
    trimmed = out / "bench_manifest.csv"
    with trimmed.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return trimmed


def default_model(tmp: Path) -> Path:
    """The demo model, else a fresh ResNet34 bundle made in a subprocess, so that this
    process imports torch only in the app's model thread (the phase being measured)."""
    import subprocess

    from core.resources import demo_model_dir

    if demo_model_dir().is_dir():
        return demo_model_dir()
    out = tmp / "resnet34_224"
    code = f"from tests.support.models import make_bundle; make_bundle({str(out)!r}, crop=224, resize=256)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return out


class StallMonitor:
    """Records the gaps between ticks of a 5 ms timer on the GUI thread."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = None

    def start(self):
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self):
        self.timer.stop()

    def _tick(self):
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now

    def summary(self) -> dict:
        import numpy as np

        gaps = np.array(self.gaps or [0.0])
        return {
            "ticks": len(self.gaps),
            "max_gap_ms": float(gaps.max()),
            "p99_gap_ms": float(np.percentile(gaps, 99)),
            "gaps_over_50ms": int((gaps > 50).sum()),
        }


def measure_idle(app, monitor: StallMonitor, seconds: float) -> dict:
    """The same timer with nothing to do: what the machine's load alone costs."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    monitor.start()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    monitor.stop()
    return monitor.summary()


def wait_for(app, signal, timeout_s: float) -> float:
    """Run the event loop until ``signal`` fires; returns the seconds waited."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    start = time.perf_counter()
    loop.exec()
    signal.disconnect(loop.quit)
    return time.perf_counter() - start


def run(
    model: Path | None, n_images: int, device: str, fmt: str = "png", backend: str = "auto"
) -> dict:
    with tempfile.TemporaryDirectory(prefix="cnsight_bench_") as tmp:
        return _run_in(Path(tmp), model, n_images, device, fmt, backend)


def _run_in(
    tmp: Path, model: Path | None, n_images: int, device: str, fmt: str, backend: str
) -> dict:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    study = make_study(tmp / "study", n_images, fmt)
    model = model or default_model(tmp)

    from desktop.app import _build
    from desktop.settings import AppSettings
    from desktop.theme import apply_dark_theme

    apply_dark_theme(app)
    session, window = _build(AppSettings())
    window.resize(1440, 900)
    window.show()
    torch_was_imported = "torch" in sys.modules
    monitor = StallMonitor()
    idle = measure_idle(app, monitor, 2.0)

    monitor.start()
    session.load_model(model, device, backend)
    load_s = wait_for(app, session.model_changed, 300)
    monitor.stop()
    load = monitor.summary() | {"seconds": round(load_s, 2)}

    window.state.set_heatmap_on(True)  # the viewer also renders heatmaps as results arrive
    monitor.start()
    window.open_paths([study])
    predict_s = wait_for(app, session.all_predicted, 600)
    monitor.stop()
    predicted = window.vm.predicted_image_count
    predict = monitor.summary() | {"seconds": round(predict_s, 2), "images": predicted}
    window.close()
    return {
        "model": str(model),
        "device": session.model.model.device if session.model.model else "?",
        "backend": session.model.model.backend if session.model.model else "?",
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "torch_imported_before_load": torch_was_imported,
        "idle_baseline": idle,
        "load_model": load,
        "open_and_predict": predict,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path)
    p.add_argument("--images", type=int, default=30)
    p.add_argument("--device", default="auto")
    p.add_argument("--format", choices=("png", "dicom"), default="png")
    p.add_argument("--backend", default="auto", help="inference backend (core.inference)")
    p.add_argument(
        "--ort-spinning",
        choices=("on", "off"),
        default=None,
        help="ONNX Runtime threads spin-wait after a run (on) or sleep (off); default: the "
        "product's setting (core.inference.onnx_runtime.ALLOW_SPINNING)",
    )
    args = p.parse_args(argv)
    if args.ort_spinning is not None:
        from core.inference import onnx_runtime

        onnx_runtime.ALLOW_SPINNING = args.ort_spinning == "on"
    logging.basicConfig(level=logging.WARNING)
    result = run(args.model, args.images, args.device, args.format, args.backend)
    import json

    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
