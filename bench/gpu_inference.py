"""Inference and training throughput on a CUDA device (issue 10, item 5), side by side in one run.

Inference, per batch, interleaved repetitions, median: the Predictor on ``torch`` (eager fp32),
``torch-channels-last``, ``torch-bf16`` (autocast), and ``torch.compile`` of the channels_last
network (``--compile``; its compile time is reported apart). Training: images per second of
forward + backward + SGD steps with AMP (bf16 autocast) and channels_last against plain fp32,
on random tensors of the bundle's input size (the data loading is not part of it).

    .venv/bin/python bench/gpu_inference.py [--model BUNDLE] [--batch 64] [--reps 20] [--compile]

Prints a markdown table (for docs/performance.md, "CUDA"); refuses to run without CUDA.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, reps: int, sync) -> list[float]:
    out = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="also torch.compile the network")
    args = ap.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("bench/gpu_inference.py: no CUDA device here", file=sys.stderr)
        return 2
    from bench.inference_paths import phantom_images
    from core.bundle import load_bundle
    from core.predictor import Predictor
    from core.resources import demo_model_dir

    model_dir = args.model or demo_model_dir()
    images = phantom_images(args.batch)
    sync = torch.cuda.synchronize
    fns, notes = {}, []
    predictors = {}
    for backend in ("torch", "torch-channels-last", "torch-bf16"):
        p = Predictor(load_bundle(model_dir), "cuda", args.batch, backend)
        predictors[backend] = p
        fns[f"Predictor {backend}"] = lambda p=p: p.predict_batch(images)
    if args.compile:
        p = Predictor(load_bundle(model_dir), "cuda", args.batch, "torch-channels-last")
        t0 = time.perf_counter()
        p.backend.net = torch.compile(p.backend.net, mode="max-autotune")
        p.predict_batch(images)
        notes.append(f"torch.compile: {time.perf_counter() - t0:.0f} s to compile")
        fns["Predictor channels_last + torch.compile"] = lambda p=p: p.predict_batch(images)
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(args.reps):
        for k, fn in fns.items():
            times[k] += timed(fn, 1, sync)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["Predictor torch"]
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, batch {args.batch}, "
          f"median of {args.reps} interleaved reps\n")  # fmt: skip
    print("| inference | ms / batch | images / s | ratio to eager |\n|---|---:|---:|---:|")
    for k, s in med.items():
        print(f"| {k} | {s * 1000:.1f} | {args.batch / s:.0f} | {s / base:.3f} |")
    for n in notes:
        print(f"\n{n}")

    crop = predictors["torch"].bundle.card.preprocessing.crop
    train = {}
    for name, amp, cl in (("fp32", False, False), ("AMP bf16 + channels_last", True, True)):
        net = load_bundle(model_dir).model.cuda().train()
        fmt = torch.channels_last if cl else torch.contiguous_format
        net = net.to(memory_format=fmt)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
        x = torch.randn(args.batch, 3, crop, crop, device="cuda").to(memory_format=fmt)
        y = torch.randint(0, 5, (args.batch,), device="cuda")

        def step(net=net, opt=opt, x=x, y=y, amp=amp):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                loss = torch.nn.functional.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        step()
        train[name] = statistics.median(timed(step, args.reps, sync))
    print("\n| training step | ms / batch | images / s |\n|---|---:|---:|")
    for k, s in train.items():
        print(f"| {k} | {s * 1000:.1f} | {args.batch / s:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
