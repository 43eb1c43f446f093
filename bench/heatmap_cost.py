"""What do heatmaps cost? Per-image time, side by side in one run, interleaved:

  A. prediction alone (plain forward + softmax)
  B. CNSight's Predictor: prediction + heatmaps of EVERY class from the same forward pass
  C. prediction + pytorch-grad-cam GradCAM once per class (a backward pass per class)

Run:  .venv/bin/python bench/heatmap_cost.py [--batch 1] [--reps 7] [--size 224]
Prints a markdown table with medians and the ratios B/A and C/A (the numbers that matter on a
shared, noisy machine). Target (issue 2): B/A - 1 < 10 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bundle import ModelCard, load_bundle, save_bundle  # noqa: E402
from core.model import build_model  # noqa: E402
from core.predictor import Predictor  # noqa: E402
from core.preprocess import PreprocessSpec, prepare  # noqa: E402
from core.records import ImageRef, LoadedImage  # noqa: E402
from core.taxonomy import DEFAULT_TAXONOMY  # noqa: E402


def make_images(n: int, seed=0) -> list[LoadedImage]:
    rng = np.random.default_rng(seed)
    return [
        LoadedImage(
            ref=ImageRef(Path(f"{i}.png")), pixels=rng.integers(0, 256, (480, 640, 3), np.uint8)
        )
        for i in range(n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = PreprocessSpec(resize=round(args.size * 256 / 224), crop=args.size)
    with tempfile.TemporaryDirectory() as tmp:
        card = ModelCard(
            name="bench", architecture="resnet34", taxonomy=DEFAULT_TAXONOMY, preprocessing=spec
        )
        save_bundle(build_model("resnet34", len(DEFAULT_TAXONOMY)), card, Path(tmp))
        bundle = load_bundle(tmp)
    model = bundle.model
    k = len(DEFAULT_TAXONOMY)
    images = make_images(args.batch)
    predictor = Predictor(bundle, device="cpu", batch_size=args.batch)

    @torch.inference_mode()
    def plain():
        # The Predictor keeps no hook on the network (core.inference): this is the bare model.
        batch = torch.stack([prepare(im, spec)[0] for im in images])
        torch.softmax(model(batch), 1).numpy()

    def ours():
        predictor.predict_batch(images)

    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    def gradcam_per_class():
        plain()
        batch = torch.stack([prepare(im, spec)[0] for im in images])
        with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
            for c in range(k):
                cam(input_tensor=batch, targets=[ClassifierOutputTarget(c)] * len(images))

    methods = {
        "A prediction alone": plain,
        "B prediction + all heatmaps (CNSight)": ours,
        f"C prediction + grad-cam x{k} classes": gradcam_per_class,
    }
    for fn in methods.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.reps):
        for name, fn in methods.items():  # interleaved, so drift hits every method alike
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / args.batch * 1000)
    med = {name: statistics.median(v) for name, v in times.items()}
    base = med["A prediction alone"]
    print(
        f"ResNet34, {args.size}x{args.size}, batch {args.batch}, {torch.get_num_threads()} threads, "
        f"median of {args.reps} interleaved reps, torch {torch.__version__}\n"
    )
    print("| method | ms / image | ratio to A |\n|---|---:|---:|")
    for name, m in med.items():
        print(f"| {name} | {m:.1f} | {m / base:.3f} |")
    predictor.close()


if __name__ == "__main__":
    main()
