"""``python -m bench`` (``make bench``): every benchmark of issue 10, one run, one report.

Writes the generated part of docs/performance.md (between the ``bench:begin``/``bench:end``
markers; the hand-written sections below them stay): the machine (CPU model and flags, cores,
torch and ONNX Runtime versions), the command, and each benchmark's medians of interleaved
repetitions with their ratios, all measured in this one run:

    inference  the backends' bare forward and the Predictor on one batch (bench.inference_paths)
    cli        cnsight-predict with/without --heatmaps, the published scripts' way, peak RSS at
               200 and 2,000 images (bench.cli_paths)
    app        the app's 30-image study: time to all results, longest GUI stall (bench/gui_stall.py,
               in a child process, offscreen)
    cine       a 25 fps cine played in the app while it is predicted: displayed frames per
               second, the share shown with their heatmap, GUI stalls (bench/gui_cine.py)

    .venv/bin/python -m bench [--reps 5] [--only inference,cli,app,cine] [--print]

``--print`` writes the report to stdout instead of docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
SECTIONS = ("inference", "cli", "app", "cine")
#: Flags that decide which fast paths the CPU has (shown in the report, the rest are omitted).
FLAGS_SHOWN = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
               "amx_int8")  # fmt: skip


def machine() -> dict:
    import onnxruntime
    import torch

    model = ""
    for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    from core.inference.torch_bf16 import cpu_flags

    flags = cpu_flags()
    return {
        "cpu": model or platform.processor(),
        "flags": [f for f in FLAGS_SHOWN if f in flags],
        "cores": len(os.sched_getaffinity(0)),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


#: Live cine in the app: the default and the fastest path (int8, its agreement measured above).
CINE_BACKENDS = ("auto", "onnxruntime-int8")


def ensure_int8_calibration(model_dir: Path) -> None:
    """The int8 graph is made once per weights on 32 phantoms (the inference section does it
    too); the app refuses int8 until it exists."""
    import torch

    from core.bundle import load_bundle
    from core.inference.onnx_int8 import calibrate_int8
    from core.preprocess import prepare

    from .inference_paths import phantom_images

    bundle = load_bundle(model_dir)
    spec = bundle.card.preprocessing
    calib = phantom_images(32, seed=11)
    calibrate_int8(bundle, [torch.stack([prepare(im, spec)[0] for im in calib])])


def run_cine(model_dir: Path) -> dict:
    """bench/gui_cine.py per backend, each in its own process (it owns a QApplication): a
    75-frame, 25 fps cine played in the real main window from the moment it is shown."""
    ensure_int8_calibration(model_dir)
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    result = {}
    for backend in CINE_BACKENDS:
        cmd = [sys.executable, str(ROOT / "bench" / "gui_cine.py"), "--model", str(model_dir),
               "--backend", backend]  # fmt: skip
        run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            result[backend] = {"error": run.stderr.strip().splitlines()[-1:] or ["failed"]}
        else:
            result[backend] = json.loads(run.stdout[run.stdout.index("{") :])
    return result


def run_app(model_dir: Path, backend: str) -> dict:
    """bench/gui_stall.py in its own process (it owns a QApplication)."""
    cmd = [sys.executable, str(ROOT / "bench" / "gui_stall.py"), "--model", str(model_dir),
           "--images", "30", "--device", "cpu", "--backend", backend]  # fmt: skip
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        return {"error": run.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(run.stdout)


def render(info: dict, command: str, parts: dict[str, str]) -> str:
    lines = [
        BEGIN,
        "## Measured by `python -m bench` (issue 10)",
        "",
        f"Command: `{command}` ({info['date']}). Machine: {info['cpu']}, {info['cores']} cores "
        f"(shared with other jobs: 1-minute load average {info['load_average_1min']} at the start), "
        f"flags {', '.join(info['flags']) or 'none of ' + ', '.join(FLAGS_SHOWN)}; torch "
        f"{info['torch']} ({info['torch_threads']} threads), ONNX Runtime {info['onnxruntime']}, "
        f"Python {info['python']}. Every figure below comes from this one run.",
    ]
    titles = {
        "inference": "### Inference paths (bare forward vs Predictor)",
        "cli": "### cnsight-predict: heatmaps, the published scripts' way, memory",
        "app": "### The app: a 30-image study",
        "cine": "### Live cine in the app: a 75-frame, 25 fps cine played while it is predicted",
    }
    for name, text in parts.items():
        lines += ["", titles[name], "", text]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def app_markdown(r: dict, backend: str) -> str:
    if "error" in r:
        return f"Not measured: bench/gui_stall.py failed ({r['error'][0]})."
    p, load = r["open_and_predict"], r["load_model"]
    return (
        f"`bench/gui_stall.py --images 30 --device cpu --backend {backend}` (offscreen, the real "
        f"main window; ran on {r.get('backend', '?')}): "
        f"{p['images']} images predicted and shown with heatmaps **{p['seconds']:.1f} s** after "
        f"the study was opened; longest GUI stall while predicting **{p['max_gap_ms']:.0f} ms** "
        f"(p99 {p['p99_gap_ms']:.0f} ms, {p['gaps_over_50ms']} gaps over 50 ms; idle baseline "
        f"{r['idle_baseline']['max_gap_ms']:.0f} ms). Model load (incl. the backend set-up): "
        f"{load['seconds']:.1f} s, longest stall {load['max_gap_ms']:.0f} ms."
    )


def cine_markdown(r: dict) -> str:
    rows = [
        "`bench/gui_cine.py --backend B` (offscreen, the real main window, heatmaps on, "
        "playback started when the cine is shown, before any frame is predicted; the model "
        "thread uses the app's default thread count). Displayed frames per second, the share "
        "shown with their own heatmap, the model's frames per second on this cine and the "
        "longest GUI stall:",
        "",
        "| backend | model frames / s | open to all predicted (s) | while predicting: shown fps"
        " | with heatmap | longest stall (ms) | afterwards: shown fps | with heatmap |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, v in r.items():
        if "error" in v:
            rows.append(f"| {backend} | not measured: {v['error'][0]} | | | | | | |")
            continue
        w, a = v["while_predicting"], v["after"]
        rows.append(
            f"| {v['backend']} | {v['model_frames_per_s']:.1f} | {v['open_to_all_predicted_s']:.1f}"
            f" | {w['displayed_fps']:.1f} | {w['shown_with_heatmap']:.0%} | "
            f"{w['max_gui_stall_ms']:.0f} | {a['displayed_fps']:.1f} | {a['shown_with_heatmap']:.0%} |"
        )
    first = next(iter(r.values()))
    if "file_fps" in first:
        rows += ["", f"The file's frame rate: {first['file_fps']:g} fps."]
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    ap.add_argument("--model", type=Path, default=None, help="bundle (default: the demo model)")
    ap.add_argument("--print", action="store_true", help="print instead of writing the doc")
    args = ap.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s) {', '.join(sorted(unknown))}: choose from {SECTIONS}")
    from core.resources import demo_model_dir

    from . import cli_paths, inference_paths

    model = args.model or demo_model_dir()
    info = machine()
    parts: dict[str, str] = {}
    raw: dict[str, object] = {"machine": info}
    t0 = time.perf_counter()

    def step(name: str) -> None:  # progress on stderr: a full run takes many minutes
        print(f"[{time.perf_counter() - t0:5.0f} s] {name} ...", file=sys.stderr, flush=True)

    if "inference" in only:
        step("inference")
        raw["inference"] = r = inference_paths.run(model, reps=args.reps)
        parts["inference"] = inference_paths.markdown(r)
    if "cli" in only:
        step("cli")
        marginal = cli_paths.run_marginal(model, reps=args.reps)
        memory = cli_paths.run_memory()
        raw["cli"] = {"marginal": marginal, "memory": memory}
        parts["cli"] = cli_paths.markdown(marginal, memory)
    if "app" in only:
        step("app")
        raw["app"] = r = {b: run_app(model, b) for b in ("auto", "torch")}
        parts["app"] = "\n\n".join(app_markdown(v, b) for b, v in r.items())
    if "cine" in only:
        step("cine")
        raw["cine"] = r = run_cine(model)
        parts["cine"] = cine_markdown(r)
    command = "python -m bench" + (f" {' '.join(argv or sys.argv[1:])}".rstrip())
    report = render(info, command, parts)
    print(json.dumps(raw, indent=1, default=str), file=sys.stderr)
    print(f"benchmarks took {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.print:
        print(report)
        return 0
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + report + text[text.index(END) + len(END) + 1 :]
    else:  # first run: after the title and the introduction
        head, _, rest = text.partition("\n## ")
        text = head.rstrip() + "\n\n" + report + ("\n## " + rest if rest else "")
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
