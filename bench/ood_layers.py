"""Which features should the out-of-distribution score use? Chosen on selection data only.

    .venv/bin/python bench/ood_layers.py --model resources/demo_model \
        --train-manifest TRAIN.csv --select PHANTOMS_SEED5.csv --ood-select FBAU_A.csv OOD.csv \
        --cache /tmp/ood/cache --out docs/ood_layers.json

One pass of the bundle's network over every image, keeping the global average of each residual
stage (layer1..layer4) and whether the image was cropped to a DICOM ultrasound region. The
bundle's own training split is rebuilt from its card (and refused if its digest differs): the
class means and shared covariance are fitted on the training images, thresholds on the
validation images (95 % kept), exactly as cnsight-train does. Each candidate (which stages,
how they are combined, one threshold or one per framing) is then judged on selection sets
that are neither the bundle's data nor the test sets reported in docs/benchmarks.md:
in-domain phantoms of the selection seed (per format) and out-of-domain images (half of the
FBAU patients, bench/ood_inputs.py files).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from core.bundle import load_bundle
from core.discovery import discover
from core.domain import check_image
from core.errors import ImageReadError
from core.feature_domain import fit_gaussians, threshold_for
from core.imaging import read_image
from core.preprocess import prepare
from training.splits import make_split, patient_rows

STAGES = ("layer1", "layer2", "layer3", "layer4")


@torch.inference_mode()
def features(bundle, refs, batch: int = 32) -> dict[str, np.ndarray]:
    """Pooled stage features, region flag and the model-free check of every readable image."""
    model = bundle.model.eval()
    kept: dict[str, torch.Tensor] = {}
    hooks = [
        model.get_submodule(s).register_forward_hook(
            lambda _m, _i, out, s=s: kept.__setitem__(s, out.mean(dim=(2, 3)))
        )
        for s in STAGES
    ]
    out = {s: [] for s in STAGES} | {"region": [], "assessable": [], "label": []}
    names = bundle.card.class_names
    try:
        for start in range(0, len(refs), batch):
            loaded = []
            for ref in refs[start : start + batch]:
                try:
                    loaded.append(read_image(ref))
                except ImageReadError:
                    continue
            if not loaded:
                continue
            x = torch.stack([prepare(im, bundle.card.preprocessing)[0] for im in loaded])
            model(x)
            for s in STAGES:
                out[s].append(kept[s].float().numpy())
            for im in loaded:
                out["region"].append(im.region is not None)
                out["assessable"].append(check_image(im).assessable)
                label = im.ref.label
                out["label"].append(names.index(label) if label in names else -1)
            print(f"  {start + len(loaded)}/{len(refs)}", end="\r", file=sys.stderr)
    finally:
        for h in hooks:
            h.remove()
    return {k: np.concatenate(v) if k in STAGES else np.asarray(v) for k, v in out.items()}


def cached(cache: Path, name: str, bundle, refs) -> dict[str, np.ndarray]:
    path = cache / f"{name}.npz"
    if not path.exists():
        print(f"features: {name} ({len(refs)} images)", file=sys.stderr)
        np.savez(path, **features(bundle, refs))
    return dict(np.load(path))


def rebuilt_split(bundle, manifest: Path):
    """The bundle's train / validation images, from its card's split arguments."""
    card = bundle.card
    args = card.training["args"]
    cohort = discover([manifest], card.class_names)
    split = make_split(
        patient_rows(cohort), kind=args["split"], val_fraction=args["val_fraction"],
        test_fraction=args["test_fraction"], folds=args["folds"], fold=args["fold"],
        test_site=args.get("test_site"), seed=args["seed"],
    )  # fmt: skip
    if split.digest() != card.training["split"]["sha256"]:
        raise SystemExit(f"{manifest}: not the data this bundle was trained on (split digest)")
    by_part = {"train": [], "val": []}
    for p in cohort.patients:
        part = split.part_of(p.patient_id)
        if part in by_part:
            by_part[part].extend(p.images)
    return by_part["train"], by_part["val"]


def evaluate(stages, combine, per_framing, sets, keep=0.95) -> dict:
    """Fit on train, threshold on validation, report on the selection sets."""
    tr, va = sets["train"], sets["val"]
    k = int(tr["label"].max()) + 1
    dist = {}
    for s in stages:
        means, w = fit_gaussians(tr[s], tr["label"], k)
        mu = means @ w

        def d(f, w=w, mu=mu):
            z = f @ w
            return np.sqrt(((z[:, None, :] - mu[None]) ** 2).sum(-1)).min(1)

        dist[s] = d
    # Combine: each stage's distance relative to its own validation 95 % quantile, then the
    # mean (or max) over stages; the final threshold again keeps `keep` of validation.
    scale = {s: threshold_for(dist[s](va[s]), keep) for s in stages}

    def combined(fs):
        r = np.stack([dist[s](fs[s]) / scale[s] for s in stages])
        return r.mean(0) if combine == "mean" else r.max(0)

    val_score = combined(va)
    groups = (False, True) if per_framing else (None,)
    thresholds = {}
    for g in groups:
        sel = np.ones(len(val_score), bool) if g is None else va["region"] == g
        thresholds[g] = threshold_for(val_score[sel], keep)

    def decide(fs):
        score = combined(fs)
        t = np.array([thresholds[None if not per_framing else bool(r)] for r in fs["region"]])
        return score / t, score

    report = {}
    for name, fs in sets.items():
        if name in ("train",):
            continue
        rel, _ = decide(fs)
        report[name] = {
            "n": len(rel),
            "score_flagged": round(float(np.mean(rel > 1)), 4),
            "flagged_with_checks": round(float(np.mean((rel > 1) | ~fs["assessable"])), 4),
        }
    inside = [n for n in sets if n.startswith("in:")]
    for name in sets:
        if name.startswith("out:"):
            rel_out, _ = decide(sets[name])
            for i in inside:
                rel_in, _ = decide(sets[i])
                y = np.r_[np.zeros(len(rel_in)), np.ones(len(rel_out))]
                auc = roc_auc_score(y, np.r_[rel_in, rel_out])
                report[name][f"auroc_vs_{i}"] = round(float(auc), 4)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=Path("resources/demo_model"))
    p.add_argument("--train-manifest", type=Path, required=True)
    p.add_argument("--select", type=Path, nargs="+", required=True, help="in-domain selection")
    p.add_argument("--ood-select", type=Path, nargs="+", required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--fit-images", type=int, default=6000, help="training images fitted on")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    args.cache.mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(args.model)
    train, val = rebuilt_split(bundle, args.train_manifest)
    if len(train) > args.fit_images:  # a seeded sample, as cnsight-train's --domain-fit-images
        pick = np.random.default_rng(0).choice(len(train), args.fit_images, replace=False)
        train = [train[i] for i in sorted(pick)]
    sets = {"train": cached(args.cache, "train", bundle, train)}
    sets["val"] = cached(args.cache, "val", bundle, val)
    for m in args.select:
        refs = list(discover([m]).images)
        fs = cached(args.cache, f"in_{m.parent.name}", bundle, refs)
        for fmt, sel in (("png", ~fs["region"]), ("dicom", fs["region"])):
            if sel.any():
                sets[f"in:{m.parent.name}:{fmt}"] = {k: v[sel] for k, v in fs.items()}
    for m in args.ood_select:
        refs = list(discover([m]).images)
        sets[f"out:{m.parent.name}"] = cached(args.cache, f"out_{m.parent.name}", bundle, refs)
    results = []
    for stages in (("layer4",), ("layer3", "layer4"), ("layer2", "layer3", "layer4"), STAGES):
        for combine in ("mean", "max") if len(stages) > 1 else ("mean",):
            for per_framing in (False, True):
                r = evaluate(stages, combine, per_framing, sets)
                results.append(
                    {"stages": stages, "combine": combine, "per_framing": per_framing} | r
                )
                print(json.dumps(results[-1]))
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
