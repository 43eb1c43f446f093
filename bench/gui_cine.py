"""Live cine in the real main window: does prediction + heatmap of the displayed frame keep up
with playback, and does the GUI stay responsive while it plays?

A phantom DICOM cine (its frames repeated to ``--frames``, FrameTime 40 ms = 25 fps) is opened
in the app with heatmaps on and played (loop) from the moment its pixels are shown, before any
frame is predicted. Each batch's predictions reach the view as they are made, so the question is
whether the frames being shown already have theirs. Recorded on the GUI thread:

- displayed frames per second while the model works and after it is done (the file's rate is
  the goal), and the share of displayed frames that were shown with their heatmap;
- the model's throughput on this cine (frames predicted per second, open to last frame);
- the longest GUI stall (a 5 ms timer's late ticks, as bench/gui_stall.py).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_cine.py [--frames 75]
        [--backend auto] [--threads N] [--seconds-after 3]

``--threads`` sets the model thread's torch / ONNX Runtime threads (CNSIGHT_TORCH_THREADS; the
app's default is all cores but one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gui_stall import StallMonitor, default_model, wait_for  # noqa: E402


def make_cine(out: Path, n_frames: int) -> tuple[Path, float]:
    """A phantom cine with its frames repeated to ``n_frames``; (path, frame time in ms)."""
    import numpy as np
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian

    from phantoms.phantom_set import generate_phantom_set

    generate_phantom_set(out / "set", n_patients=1, seed=7, fmt="dicom")
    for path in sorted((out / "set").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            break
    else:
        raise SystemExit("the phantom set has no cine")
    frames = ds.pixel_array
    reps = -(-n_frames // len(frames))
    frames = np.concatenate([frames] * reps)[:n_frames]
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    ds.NumberOfFrames = n_frames
    cine = out / "cine" / "cine.dcm"
    cine.parent.mkdir(parents=True)
    ds.save_as(cine, enforce_file_format=True)
    return cine, float(ds.FrameTime)


def run(model: Path | None, n_frames: int, backend: str, seconds_after: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="cnsight_cine_") as tmp:
        return _run_in(Path(tmp), model, n_frames, backend, seconds_after)


def _run_in(tmp: Path, model, n_frames: int, backend: str, seconds_after: float) -> dict:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    cine, frame_time = make_cine(tmp, n_frames)
    model = model or default_model(tmp)

    from desktop.app import _build
    from desktop.settings import AppSettings
    from desktop.theme import apply_dark_theme

    apply_dark_theme(app)
    session, window = _build(AppSettings())
    window.resize(1440, 900)
    window.show()
    session.load_model(model, "cpu", backend)
    wait_for(app, session.model_changed, 300)

    shown: list[tuple[float, int, bool]] = []  # (time, frame, shown with its prediction)
    vm, state = window.vm, window.state

    def on_frame():
        ref = vm.current_ref
        if ref is not None and vm.current_group is not None and vm.current_group.is_cine:
            shown.append((time.perf_counter(), vm.frame_index, vm.prediction(ref) is not None))

    state.set_heatmap_on(True)
    state.set_cine_loop(True)
    monitor = StallMonitor()
    t_open = time.perf_counter()
    window.open_paths([cine])
    while vm.current_image is None and time.perf_counter() - t_open < 120:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    vm.current_changed.connect(on_frame)
    monitor.start()
    t_play = time.perf_counter()
    state.set_cine_playing(True)
    predict_s = wait_for(app, session.all_predicted, 600) + (t_play - t_open)
    t_done = time.perf_counter()
    during = monitor.summary()
    monitor.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds_after * 1000), loop.quit)
    loop.exec()
    monitor.stop()
    after = monitor.summary()
    state.set_cine_playing(False)
    info = session.model.model
    window.close()

    def rate(rows):
        if len(rows) < 2:
            return 0.0
        return (len(rows) - 1) / (rows[-1][0] - rows[0][0])

    first = [r for r in shown if r[0] <= t_done]
    later = [r for r in shown if r[0] > t_done]
    return {
        "model": str(model),
        "backend": info.backend if info else "?",
        "threads": os.environ.get("CNSIGHT_TORCH_THREADS", "default (cores - 1)"),
        "cores": len(os.sched_getaffinity(0)),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "frames": n_frames,
        "file_fps": round(1000.0 / frame_time, 2),
        "open_to_all_predicted_s": round(predict_s, 2),
        "model_frames_per_s": round(n_frames / predict_s, 2),
        "while_predicting": {
            "displayed_fps": round(rate(first), 2),
            "frames_shown": len(first),
            "shown_with_heatmap": round(sum(r[2] for r in first) / max(1, len(first)), 3),
            "max_gui_stall_ms": round(during["max_gap_ms"], 1),
            "gaps_over_50ms": during["gaps_over_50ms"],
        },
        "after": {
            "displayed_fps": round(rate(later), 2),
            "frames_shown": len(later),
            "shown_with_heatmap": round(sum(r[2] for r in later) / max(1, len(later)), 3),
            "max_gui_stall_ms": round(after["max_gap_ms"], 1),
        },
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path)
    p.add_argument("--frames", type=int, default=75)
    p.add_argument("--backend", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seconds-after", type=float, default=3.0)
    args = p.parse_args(argv)
    if args.threads:
        os.environ["CNSIGHT_TORCH_THREADS"] = str(args.threads)  # read by the model thread
    print(json.dumps(run(args.model, args.frames, args.backend, args.seconds_after), indent=2))


if __name__ == "__main__":
    main()
