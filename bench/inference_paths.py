"""The inference paths side by side on one batch (issue 10, items 2 and 4a).

Per repetition, interleaved (so drift and the neighbours' load hit every path alike):

- the bare forward of each runtime on the already prepared batch (torch eager, torch
  channels_last, ONNX Runtime fp32; int8 and bf16 where they run): ``model(batch)`` only;
- CNSight's ``Predictor`` on each fp32 backend: preprocessing of the decoded images,
  probabilities, every class's heatmap, the domain score and the plane, from one pass.

Reported: the medians, each as a ratio to the fastest bare forward, and each backend's
agreement with torch eager (largest probability difference, smallest heatmap correlation,
same classes). The Predictor target: within 1.15x of the fastest bare forward.

    .venv/bin/python -m bench inference [--reps 7] [--batch 16]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def phantom_images(n: int, seed: int = 7):
    """``n`` decoded phantom ultrasound images (PNG, as a study folder has them)."""
    import tempfile

    from core.imaging import read_image
    from core.records import ImageRef
    from phantoms.phantom_set import generate_phantom_set

    with tempfile.TemporaryDirectory(prefix="cnsight_bench_") as tmp:
        generate_phantom_set(Path(tmp), n_patients=max(1, n // 4), seed=seed)
        paths = sorted(Path(tmp).rglob("*.png"))[:n]
        if len(paths) < n:
            raise SystemExit(f"the phantom study has only {len(paths)} images")
        return [read_image(ImageRef(p)) for p in paths]


def interleaved(
    fns: dict[str, Callable[[], object]], reps: int, warm_up: bool = True
) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved; first one warm-up call
    each (``warm_up``: off for calls that are whole runs, start-up included)."""
    for fn in fns.values() if warm_up else ():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def agreement(got, ref) -> dict:
    """Largest |p - p_ref|, smallest per-class heatmap correlation, classes equal (all images)."""
    dp = max(float(np.abs(g.probs - r.probs).max()) for g, r in zip(got, ref, strict=True))
    corr = 1.0
    for g, r in zip(got, ref, strict=True):
        for k in range(r.cams.shape[0]):
            a, b = g.cams[k].ravel(), r.cams[k].ravel()
            if a.std() > 0 and b.std() > 0:
                corr = min(corr, float(np.corrcoef(a, b)[0, 1]))
    same = all(g.pred_index == r.pred_index for g, r in zip(got, ref, strict=True))
    return {"max_prob_diff": dp, "min_cam_corr": corr, "same_classes": same}


#: Batches in the "as callers run it" measurement (Predictor.predict over several batches).
RUN_BATCHES = 4


def run(model_dir: Path, reps: int = 7, batch_size: int = 16, calibrate_int8: bool = True) -> dict:
    import torch

    from core.bundle import load_bundle
    from core.errors import BackendUnavailable
    from core.predictor import Predictor
    from core.preprocess import prepare

    images = phantom_images(batch_size)
    predictors: dict[str, Predictor] = {}
    skipped: dict[str, str] = {}
    names = ["torch", "torch-channels-last", "onnxruntime", "torch-bf16", "onnxruntime-int8"]
    for name in names:
        bundle = load_bundle(model_dir)  # each its own network: channels_last changes it in place
        if name == "onnxruntime-int8" and calibrate_int8:
            from core.inference.onnx_int8 import calibrate_int8 as calibrate

            spec = bundle.card.preprocessing
            calib = phantom_images(32, seed=11)  # other phantoms than the measured batch
            calibrate(bundle, [torch.stack([prepare(im, spec)[0] for im in calib])])
        try:
            predictors[name] = Predictor(bundle, device="cpu", batch_size=batch_size, backend=name)
        except BackendUnavailable as exc:
            skipped[name] = str(exc)
    spec = predictors["torch"].bundle.card.preprocessing
    batch = torch.stack([prepare(im, spec)[0] for im in images])
    fns: dict[str, Callable[[], object]] = {}
    for name, p in predictors.items():
        fns[f"bare forward: {name}"] = lambda p=p: p.backend.forward(batch)
    for name, p in predictors.items():
        fns[f"Predictor: {name}"] = lambda p=p: p.predict_batch(images)
    # The part of the Predictor that is not the network: decoded image -> model input.
    fns["preprocessing alone (prepare, stack)"] = lambda: torch.stack(
        [prepare(im, spec)[0] for im in images]
    )
    # As cnsight-predict, cnsight-eval and the app call it: several batches, the next one
    # prepared on a second thread while the current one runs; against the same backend's bare
    # forward over the same (already prepared) batches.
    run_images = phantom_images(RUN_BATCHES * batch_size, seed=13)
    run_batches = [
        torch.stack([prepare(im, spec)[0] for im in run_images[i : i + batch_size]])
        for i in range(0, len(run_images), batch_size)
    ]
    for name, p in predictors.items():
        fns[f"run bare: {name}"] = lambda p=p: [p.backend.forward(b) for b in run_batches]
        fns[f"run Predictor.predict: {name}"] = lambda p=p: p.predict(run_images)
    medians = interleaved(fns, reps)
    run_ms = {k: v / len(run_images) * 1000 for k, v in medians.items() if k.startswith("run ")}
    medians = {k: v for k, v in medians.items() if not k.startswith("run ")}
    bare = {k: v for k, v in medians.items() if k.startswith("bare forward")}
    fastest_bare = min(bare, key=bare.get)
    exact = {k: v for k, v in bare.items() if "int8" not in k and "bf16" not in k}
    fastest_fp32 = min(exact, key=exact.get)
    reference = predictors["torch"].predict_batch(images)
    agree = {n: agreement(p.predict_batch(images), reference) for n, p in predictors.items()}
    for p in predictors.values():
        p.close()
    return {
        "batch": batch_size,
        "reps": reps,
        "threads": torch.get_num_threads(),
        "model": str(model_dir),
        "ms_per_image": {k: v / batch_size * 1000 for k, v in medians.items()},
        "fastest_bare": fastest_bare,
        "ratio_to_fastest_bare": {k: v / medians[fastest_bare] for k, v in medians.items()},
        "fastest_fp32_bare": fastest_fp32,
        "ratio_to_fastest_fp32_bare": {k: v / medians[fastest_fp32] for k, v in medians.items()},
        "agreement": agree,
        "skipped": skipped,
        "run_images": len(run_images),
        "run_ms_per_image": run_ms,
    }


def markdown(r: dict) -> str:
    lines = [
        f"Batch of {r['batch']} phantom images, demo bundle, {r['threads']} threads, median of "
        f"{r['reps']} interleaved repetitions; ratio = time / fastest bare forward "
        f"({r['fastest_bare'].split(': ')[1]}), and to the fastest bare forward that agrees "
        f"(fp32: {r['fastest_fp32_bare'].split(': ')[1]}).",
        "",
        "| path | ms / image | ratio to fastest | ratio to fastest fp32 |",
        "|---|---:|---:|---:|",
    ]
    for k, ms in r["ms_per_image"].items():
        lines.append(
            f"| {k} | {ms:.1f} | {r['ratio_to_fastest_bare'][k]:.3f} | "
            f"{r['ratio_to_fastest_fp32_bare'][k]:.3f} |"
        )
    lines += [
        "",
        "Agreement with torch eager on the same batch (Predictor outputs):",
        "",
        "| backend | max abs prob. difference | min heatmap correlation | same classes |",
        "|---|---:|---:|---|",
    ]
    for n, a in r["agreement"].items():
        lines.append(
            f"| {n} | {a['max_prob_diff']:.2e} | {a['min_cam_corr']:.5f} | "
            f"{'yes' if a['same_classes'] else 'NO'} |"
        )
    run_ms = r.get("run_ms_per_image", {})
    if run_ms:
        fastest = min(v for k, v in run_ms.items() if k.startswith("run bare"))
        lines += [
            "",
            f"As the CLI and the app run it: `Predictor.predict` over {r['run_images']} images "
            f"({r['run_images'] // r['batch']} batches; each next batch prepared on a second "
            "thread while the current one runs; probabilities, all heatmaps, domain check) "
            "against the same backend's bare forward over the same batches, already prepared:",
            "",
            "| backend | bare forward (ms / image) | Predictor.predict (ms / image) | "
            "Predictor / own bare forward | Predictor / fastest bare forward |",
            "|---|---:|---:|---:|---:|",
        ]
        for n in r["agreement"]:
            bare, pred = run_ms[f"run bare: {n}"], run_ms[f"run Predictor.predict: {n}"]
            lines.append(
                f"| {n} | {bare:.1f} | {pred:.1f} | {pred / bare:.3f} | {pred / fastest:.3f} |"
            )
    for n, why in r["skipped"].items():
        lines.append(f"\nNot run: `{n}`: {why}")
    return "\n".join(lines)
