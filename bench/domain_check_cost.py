"""What does knowing when not to answer cost? Side by side in one run, interleaved, on the same
batch of phantom images with one bundle:

  A. the Predictor without the out-of-distribution statistics and plane head (probabilities
     and every class's heatmap, one forward pass) - the model-free checks still run
  B. the full Predictor: A + Mahalanobis score + plane head, from the same forward pass
  C. the model-free input-domain checks alone (core.domain.check_image), per batch
  D. the pixel-texture features alone (core.texture_statistics, on each image's region at
     native resolution), which B includes when the bundle's score uses the texture group

Run:  .venv/bin/python bench/domain_check_cost.py --model BUNDLE [--batch 16] [--reps 7]
Prints the machine, medians and the ratio B/A (what matters on a shared, noisy machine).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bundle import load_bundle  # noqa: E402
from core.discovery import discover  # noqa: E402
from core.domain import check_image  # noqa: E402
from core.imaging import read_image  # noqa: E402
from core.model import PLANE_HEAD  # noqa: E402
from core.predictor import Predictor  # noqa: E402
from core.texture_statistics import image_texture  # noqa: E402
from phantoms.phantom_set import generate_phantom_set  # noqa: E402


def phantom_images(n: int) -> list:
    out = Path(tempfile.mkdtemp(prefix="cnsight_domain_cost_"))
    generate_phantom_set(out, n_patients=max(2, n // 10), seed=11, fmt="dicom")
    refs = discover([out / "manifest.csv"]).images[:n]
    return [read_image(r) for r in refs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=7)
    args = p.parse_args()
    full = load_bundle(args.model)
    if full.feature_domain is None:
        sys.exit(f"{args.model}: this bundle has no domain statistics to measure")
    bare = copy.deepcopy(full.model)  # the same network without its plane head
    if hasattr(bare, PLANE_HEAD):
        delattr(bare, PLANE_HEAD)
    plain = dataclasses.replace(full, model=bare, feature_domain=None)
    images = phantom_images(args.batch)
    times: dict[str, list[float]] = {"A": [], "B": [], "C": [], "D": []}
    spec = full.card.preprocessing
    with Predictor(plain, device="cpu") as a, Predictor(full, device="cpu") as b:
        for predictor in (a, b):  # warm-up
            predictor.predict_batch(images)
        for _ in range(args.reps):
            for name in ("A", "B", "C", "D"):
                start = time.perf_counter()
                if name == "A":
                    a.predict_batch(images)
                elif name == "B":
                    b.predict_batch(images)
                elif name == "C":
                    [check_image(im) for im in images]
                else:
                    [image_texture(im, spec) for im in images]
                times[name].append((time.perf_counter() - start) / len(images))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}; model {full.card.name} "
          f"({full.card.preprocessing.crop} px); batch {len(images)}, {args.reps} interleaved reps")  # fmt: skip
    print("| path | ms per image (median) |")
    print("|---|---:|")
    print(f"| A. predictor without score or plane head | {med['A']:.1f} |")
    print(f"| B. full predictor (score + plane head) | {med['B']:.1f} |")
    print(f"| C. model-free checks alone | {med['C']:.2f} |")
    print(f"| D. pixel-texture features alone | {med['D']:.2f} |")
    print(f"\nB/A = {med['B'] / med['A']:.3f} (the out-of-distribution score and plane head)")
    groups = "+".join(full.feature_domain.stages)
    print(f"D/A = {med['D'] / med['A']:.3f} (the texture group; this bundle's score: {groups})")


if __name__ == "__main__":
    main()
