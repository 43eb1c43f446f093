"""Time to first window, and to a fully analysed study, for ``cnsight`` launched as a process.

Each run launches ``python -m desktop.app STUDY --model BUNDLE --screenshot PNG -v`` offscreen
and measures, from the launch: when the "first window shown" log line arrives (the window
has been shown and the event loop has run once), and when the process exits (study loaded,
every image predicted, heatmap shown, screenshot written).

    .venv/bin/python bench/gui_startup.py [--runs 5] [--images 30] [--model BUNDLE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MARKER = "first window shown"


def launch_once(study: Path, model: Path, out: Path) -> dict:
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(out.parent / "xdg")}
    cmd = [sys.executable, "-m", "desktop.app", str(study), "--model", str(model),
           "--screenshot", str(out), "-v"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    first_window = in_process = None
    for line in proc.stderr:
        if MARKER in line and first_window is None:
            first_window = time.perf_counter() - start
            in_process = float(line.split(MARKER)[1].split()[0])
    code = proc.wait()
    return {
        "first_window_s": first_window,
        "first_window_in_process_s": in_process,
        "analysed_and_saved_s": time.perf_counter() - start,
        "exit_code": code,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--images", type=int, default=30)
    p.add_argument("--model", type=Path)
    args = p.parse_args(argv)
    from bench.gui_stall import default_model, make_study

    with tempfile.TemporaryDirectory(prefix="cnsight_startup_") as name:
        tmp = Path(name)
        study = make_study(tmp / "study", args.images)
        model = args.model or default_model(tmp)
        runs = [launch_once(study, model, tmp / f"shot{i}.png") for i in range(args.runs)]
    summary = {
        key: round(statistics.median(r[key] for r in runs), 2)
        for key in ("first_window_s", "first_window_in_process_s", "analysed_and_saved_s")
    }
    print(
        json.dumps(
            {
                "model": str(model),
                "images": args.images,
                "load_average_1min": os.getloadavg()[0],
                "median": summary,
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
