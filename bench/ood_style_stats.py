"""Would feature *spread* ("style": the spatial standard deviation of each channel) help an
out-of-distribution score where the spatial mean does not? A research check for issue 8's unmet
target (an FBAU-trained bundle that passes most phantoms as in-domain), not a product path.

    .venv/bin/python bench/ood_style_stats.py --model F0/bundle --train F0/splits/train.csv \
        --val F0/splits/val.csv --held-out F0/splits/test.csv \
        --select PHANTOMS_SEED5/manifest.csv --test PHANTOMS_SEED12/manifest.csv \
        --cache /tmp/ood_style

One pass of the bundle's network over each set keeps, per residual stage, the spatial mean
(what core.feature_domain uses) and the spatial standard deviation of every channel. Each
candidate set of features is fitted with core.feature_domain.fit_feature_domain exactly as
cnsight-train fits the bundle's statistics (class Gaussians with a shared covariance on the
training split, thresholds on the validation split), at several shares of validation kept, and
judged by: own held-out images kept, phantoms flagged (selection seed and test seed), AUROC of
held-out vs test-seed phantoms. Prints a table (the result is in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from core.bundle import load_bundle
from core.feature_domain import fit_feature_domain
from core.imaging import read_image
from core.preprocess import prepare
from core.records import ImageRef

STAGES = ("layer1", "layer2", "layer3", "layer4")
CANDIDATES = (
    ("layer2", "layer3", "layer4"),  # the defaults (spatial means)
    ("layer1.std", "layer2.std", "layer3.std"),
    ("layer2", "layer3", "layer4", "layer1.std", "layer2.std"),
    ("layer2", "layer3", "layer4", "layer2.std", "layer3.std"),
    ("layer2", "layer3", "layer4", "layer1.std", "layer2.std", "layer3.std", "layer4.std"),
)
KEEPS = (0.99, 0.95, 0.90)


def manifest_refs(manifest: Path) -> list[ImageRef]:
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [ImageRef(path=(manifest.parent / r["path"]).resolve(), label=r["label"]) for r in rows]


def stage_statistics(bundle, refs, cache: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """{stage: N x C mean, stage.std: N x C std} and the labels, cached per set."""
    if cache.exists():
        saved = np.load(cache)
        return {k: saved[k] for k in saved.files if k != "labels"}, list(saved["labels"])
    model, spec = bundle.model.eval(), bundle.card.preprocessing
    kept: dict[str, torch.Tensor] = {}

    def tap(name):
        def hook(_module, _inputs, output):
            kept[name] = output.mean(dim=(2, 3))
            kept[name + ".std"] = output.std(dim=(2, 3))

        return hook

    hooks = [model.get_submodule(s).register_forward_hook(tap(s)) for s in STAGES]
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(refs), 32):
        batch = torch.stack([prepare(read_image(r), spec)[0] for r in refs[start : start + 32]])
        with torch.no_grad():
            model(batch)
        for name, value in kept.items():
            parts.setdefault(name, []).append(value.numpy())
    for hook in hooks:
        hook.remove()
    features = {name: np.concatenate(p) for name, p in parts.items()}
    labels = [r.label for r in refs]
    np.savez(cache, labels=np.array(labels), **features)
    return features, labels


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("model", "train", "val", "held-out", "select", "test", "cache"):
        p.add_argument(f"--{name}", type=Path, required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    bundle = load_bundle(args.model)
    classes = list(bundle.card.class_names)
    args.cache.mkdir(parents=True, exist_ok=True)
    sets = {
        part: stage_statistics(bundle, manifest_refs(path), args.cache / f"{part}.npz")
        for part, path in (("train", args.train), ("val", args.val), ("held_out", args.held_out),
                           ("select", args.select), ("test", args.test))
    }  # fmt: skip
    fit_labels = np.array([classes.index(y) for y in sets["train"][1]])
    print(f"{'features':64s} keep  held-out kept  flagged select / test  AUROC test")
    for names in CANDIDATES:
        for keep in KEEPS:

            def pick(part, names=names):
                return {n: sets[part][0][n] for n in names}

            domain, _ = fit_feature_domain(
                pick("train"), fit_labels, len(classes), pick("val"), keep=keep
            )
            held, sel, test = (domain.scores(pick(s)) for s in ("held_out", "select", "test"))
            auroc = roc_auc_score(np.r_[np.zeros(len(held)), np.ones(len(test))], np.r_[held, test])
            print(
                f"{'+'.join(names):64s} {keep:.2f}  {np.mean(held <= 1):13.3f}  "
                f"{np.mean(sel > 1):.3f} / {np.mean(test > 1):.3f}    {auroc:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
