"""cnsight-predict's cost per image, with and without --heatmaps, against the published scripts'
way, and its memory over many images (issue 10, item 4b-4d).

- marginal time per image: ``cnsight-predict`` (the real ``main``, in this process so the
  imports are paid once) over N_SMALL and N_LARGE phantom images, with and without
  ``--heatmaps``, interleaved; marginal = (t_large - t_small) / (N_LARGE - N_SMALL), which
  removes the start-up (bundle load, ONNX Runtime session) from the figure;
- the published scripts' way, per image: PIL open, resize, centre crop, normalise, forward,
  then one pytorch-grad-cam Grad-CAM backward per class, overlay written with PIL;
- peak memory: ``cnsight-predict`` in a child process over 200 and 2,000 small PNGs
  (a 64 px bundle, so 2,000 images take a minute); its peak RSS from ``wait4``.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .inference_paths import interleaved

N_SMALL, N_LARGE = 4, 20
ROOT = Path(__file__).resolve().parents[1]


def phantom_folder(out: Path, n: int, seed: int = 7) -> Path:
    from phantoms.phantom_set import generate_phantom_set

    generate_phantom_set(out, n_patients=max(1, n // 4), seed=seed)
    pngs = sorted(out.rglob("*.png"))
    for extra in pngs[n:]:
        extra.unlink()
    (out / "manifest.csv").unlink(missing_ok=True)
    if len(pngs) < n:
        raise SystemExit(f"the phantom study has only {len(pngs)} images")
    return out


def _quiet_main(argv: list[str]) -> int:
    import logging

    from core.cli.predict import main

    logging.getLogger("cnsight").setLevel(logging.WARNING)
    with contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def published_scripts_way(bundle, paths: list[Path], out: Path) -> None:
    """What the published CNS-ultrasound scripts do per image (PIL + grad-cam per class); the
    model is loaded once before (its load is not part of the per-image figure)."""
    import torch
    from PIL import Image
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.image import show_cam_on_image
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = bundle.model.eval()
    spec = bundle.card.preprocessing
    mean = torch.tensor(spec.mean).view(3, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1)
    k = len(bundle.card.class_names)
    with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
        for path in paths:
            im = Image.open(path).convert("RGB").resize((spec.resize, spec.resize))
            left = (spec.resize - spec.crop) // 2
            im = im.crop((left, left, left + spec.crop, left + spec.crop))
            rgb = np.asarray(im, np.float32) / 255.0
            x = ((torch.from_numpy(rgb).permute(2, 0, 1) - mean) / std)[None]
            with torch.no_grad():
                torch.softmax(model(x), 1)
            for c in range(k):
                grey = cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])[0]
                Image.fromarray(show_cam_on_image(rgb, grey, use_rgb=True)).save(
                    out / f"{path.stem}_{c}.png"
                )


def run_marginal(model_dir: Path, reps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="cnsight_bench_") as tmp:
        tmp = Path(tmp)
        small = phantom_folder(tmp / "small", N_SMALL)
        large = phantom_folder(tmp / "large", N_LARGE)
        n_run = [0]

        def cli(folder: Path, heatmaps: bool):
            def go():
                n_run[0] += 1
                out = tmp / f"out{n_run[0]}"
                argv = [str(folder), "--model", str(model_dir), "--out", str(out),
                        "--device", "cpu", "--no-progress"]  # fmt: skip
                if _quiet_main(argv + (["--heatmaps"] if heatmaps else [])) != 0:
                    raise SystemExit("cnsight-predict failed in the benchmark")

            return go

        from core.bundle import load_bundle

        scripts_bundle = load_bundle(model_dir)
        scripts_out = tmp / "scripts"
        scripts_out.mkdir()
        script_paths = sorted(small.rglob("*.png"))
        fns = {
            "plain, small": cli(small, False),
            "plain, large": cli(large, False),
            "heatmaps, small": cli(small, True),
            "heatmaps, large": cli(large, True),
            "published scripts, small": lambda: published_scripts_way(
                scripts_bundle, script_paths, scripts_out
            ),
        }
        med = interleaved(fns, reps, warm_up=False)
    span = N_LARGE - N_SMALL
    plain = (med["plain, large"] - med["plain, small"]) / span
    heat = (med["heatmaps, large"] - med["heatmaps, small"]) / span
    scripts = med["published scripts, small"] / N_SMALL
    return {
        "reps": reps,
        "n_small": N_SMALL,
        "n_large": N_LARGE,
        "medians_s": med,
        "ms_per_image_plain": plain * 1000,
        "ms_per_image_heatmaps": heat * 1000,
        "heatmaps_over_plain": heat / plain,
        "ms_per_image_scripts": scripts * 1000,
        "scripts_over_heatmaps": scripts / heat,
    }


def _small_pngs(folder: Path, n: int) -> None:
    """``n`` small PNG files (distinct bytes) in patient folders of 20."""
    import cv2

    rng = np.random.default_rng(0)
    for i in range(n):
        d = folder / f"p{i // 20:03d}"
        d.mkdir(parents=True, exist_ok=True)
        img = rng.integers(0, 255, (72, 96), np.uint8)
        cv2.imwrite(str(d / f"img{i:04d}.png"), img)


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def peak_rss_mb(model_dir: Path, folder: Path, out: Path) -> float:
    """The child's own peak RSS (``VmHWM`` of its process image, read every 50 ms until it
    exits). Not ``wait4``'s ru_maxrss: Linux carries the parent's RSS at fork into it."""
    cmd = [sys.executable, "-m", "core.cli.predict", str(folder), "--model", str(model_dir),
           "--out", str(out), "--device", "cpu", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _vm_hwm_kb(proc.pid) or 0)
        time.sleep(0.05)
    if proc.returncode != 0:
        raise SystemExit(f"cnsight-predict exited {proc.returncode} in the memory benchmark")
    return peak / 1024


def run_memory(counts=(200, 2000)) -> dict:
    from core.bundle import load_bundle
    from core.inference.onnx_runtime import ensure_export
    from core.inference.outputs import MultiOutputNet
    from tests.support.models import make_bundle

    result = {}
    with tempfile.TemporaryDirectory(prefix="cnsight_bench_") as tmp:
        tmp = Path(tmp)
        bundle = make_bundle(tmp / "bundle64", crop=64, resize=72)
        loaded = load_bundle(bundle)  # exported here, so neither run measures the export
        ensure_export(loaded, MultiOutputNet(loaded.model), loaded.card.preprocessing.crop)
        del loaded
        for n in counts:
            folder = tmp / f"imgs{n}"
            _small_pngs(folder, n)
            t0 = time.perf_counter()
            rss = peak_rss_mb(bundle, folder, tmp / f"out{n}")
            result[n] = {"peak_rss_mb": rss, "seconds": time.perf_counter() - t0}
    return result


def markdown(marginal: dict, memory: dict) -> str:
    m = marginal
    lines = [
        f"`cnsight-predict` in one process over {m['n_small']} and {m['n_large']} phantom "
        f"images, median of {m['reps']} interleaved repetitions; marginal = (t{m['n_large']} - "
        f"t{m['n_small']}) / {m['n_large'] - m['n_small']} (start-up removed).",
        "",
        "| path | ms / image | ratio |",
        "|---|---:|---:|",
        f"| cnsight-predict | {m['ms_per_image_plain']:.1f} | 1.000 |",
        f"| cnsight-predict --heatmaps | {m['ms_per_image_heatmaps']:.1f} | "
        f"{m['heatmaps_over_plain']:.3f} (target <= 1.5) |",
        f"| published scripts' way (PIL, forward, Grad-CAM per class) | "
        f"{m['ms_per_image_scripts']:.1f} | {m['ms_per_image_scripts'] / m['ms_per_image_plain']:.2f} |",
        "",
        f"Published scripts' way / `cnsight-predict --heatmaps`: "
        f"**{m['scripts_over_heatmaps']:.1f}x** (target >= 30x).",
        "",
        "Peak memory of `cnsight-predict` (child process, its `VmHWM` read every 50 ms), 64 px "
        "test bundle (ONNX export already cached), 72x96 PNGs in patients of 20:",
        "",
        "| images | peak RSS (MB) | seconds |",
        "|---:|---:|---:|",
    ]
    for n, r in memory.items():
        lines.append(f"| {n} | {r['peak_rss_mb']:.0f} | {r['seconds']:.1f} |")
    counts = list(memory)
    if len(counts) >= 2:
        a, b = memory[counts[0]]["peak_rss_mb"], memory[counts[-1]]["peak_rss_mb"]
        lines.append(f"\nRatio {counts[-1]} / {counts[0]} images: **{b / a:.3f}**.")
    return "\n".join(lines)
