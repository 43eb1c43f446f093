"""Which features should the out-of-distribution score use? Chosen on selection data only.

    .venv/bin/python bench/ood_layers.py --model resources/demo_model \
        --train-manifest TRAIN.csv --select PHANTOMS_SEED5.csv --ood-select FBAU_A.csv OOD.csv \
        --cache /tmp/ood/cache --out docs/ood_layers.json

One pass of the bundle's network over every image, keeping the global average of each residual
stage (layer1..layer4) and whether the image was cropped to a DICOM ultrasound region, in the
feature cache ``python -m training.refit_domain --feature-cache`` reads (so the chosen stages
are then fitted into the bundle without another pass). The
bundle's own training split is rebuilt from its card (and refused if its digest differs): the
class means and shared covariance are fitted on the training images, thresholds on the
validation images, with core.feature_domain as cnsight-train does. Each candidate (which
stages, one threshold or one per framing, the share of validation kept) is judged on sets
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
from core.feature_domain import fit_feature_domain
from core.imaging import read_image
from core.model import FeatureTap
from core.preprocess import prepare
from training.feature_cache import STAGES, CachedRow, FeatureCache
from training.splits import make_split, patient_rows


@torch.inference_mode()
def add_features(bundle, refs, cache: FeatureCache, batch: int = 32) -> None:
    """Pooled stage features of every readable image not yet in ``cache`` (one forward pass)."""
    todo = [r for r in refs if r.key not in cache.rows]
    if not todo:
        return
    print(f"features: {len(todo)} images", file=sys.stderr)
    model = bundle.model.eval()
    with FeatureTap(model, "layer4", STAGES) as tap:
        for start in range(0, len(todo), batch):
            loaded = []
            for ref in todo[start : start + batch]:
                try:
                    loaded.append(read_image(ref))
                except ImageReadError:
                    continue
            if not loaded:
                continue
            model(torch.stack([prepare(im, bundle.card.preprocessing)[0] for im in loaded]))
            pooled = {s: f.float().numpy() for s, f in tap.stage_features().items()}
            for j, im in enumerate(loaded):
                stages = {s: f[j] for s, f in pooled.items()}
                cache.rows[im.ref.key] = CachedRow(stages, im.region is not None)
            print(f"  {start + len(loaded)}/{len(todo)}", end="\r", file=sys.stderr)
    cache.save()


def feature_set(bundle, refs, cache: FeatureCache) -> dict[str, np.ndarray]:
    """Stage features, region flag, model-free check and class id of the cached images."""
    add_features(bundle, refs, cache)
    names = bundle.card.class_names
    refs = [r for r in refs if r.key in cache.rows]
    out = {s: np.stack([cache.rows[r.key].stages[s] for r in refs]) for s in STAGES}
    out["region"] = np.array([cache.rows[r.key].cropped for r in refs])
    out["label"] = np.array([names.index(r.label) if r.label in names else -1 for r in refs])
    out["assessable"] = np.array([check_image(read_image(r)).assessable for r in refs])
    return out


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


def evaluate(stages, per_framing, keep, sets) -> dict:
    """Fit on train, threshold on validation (core.feature_domain, as cnsight-train does),
    report the share flagged on each set (score alone, and with the model-free checks)."""
    tr, va = sets["train"], sets["val"]
    k = int(tr["label"].max()) + 1
    domain, _ = fit_feature_domain(
        {s: tr[s] for s in stages}, tr["label"], k, {s: va[s] for s in stages}, keep,
        va["region"] if per_framing else None,
    )  # fmt: skip

    def relative(fs):
        return domain.scores({s: fs[s] for s in stages}, fs["region"])

    report = {}
    for name, fs in sets.items():
        if name == "train":
            continue
        out = relative(fs) > 1
        report[name] = {
            "n": len(out),
            "score_flagged": round(float(np.mean(out)), 4),
            "flagged_with_checks": round(float(np.mean(out | ~fs["assessable"])), 4),
        }
    inside = [n for n in sets if n.startswith("in:")]
    for name in sets:
        if name.startswith("out:"):
            for i in inside:
                rel_in, rel_out = relative(sets[i]), relative(sets[name])
                y = np.r_[np.zeros(len(rel_in)), np.ones(len(rel_out))]
                auc = roc_auc_score(y, np.r_[rel_in, rel_out])
                report[name][f"auroc_vs_{i}"] = round(float(auc), 4)
    return report


def table(results) -> str:
    """The markdown table of docs/benchmarks.md."""
    ins = [n for n in results[0] if n.startswith("in:")]
    outs = [n for n in results[0] if n.startswith("out:")]
    head = ["stages", "threshold per framing", "keep (validation)"]
    head += [f"kept {n[3:]}" for n in ins] + [f"flagged {n[4:]}" for n in outs]
    head += [f"AUROC {o[4:]} vs {i[3:]}" for o in outs for i in ins]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        row = ["+".join(r["stages"]), "yes" if r["per_framing"] else "no", f"{r['keep']:g}"]
        row += [f"{100 * (1 - r[n]['flagged_with_checks']):.1f} %" for n in ins]
        row += [f"{100 * r[n]['flagged_with_checks']:.1f} %" for n in outs]
        row += [f"{r[o][f'auroc_vs_{i}']:.4f}" for o in outs for i in ins]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


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
    cache = FeatureCache.open(args.cache, bundle.card.weights_sha256, bundle.card.preprocessing)
    sets = {"train": feature_set(bundle, train, cache), "val": feature_set(bundle, val, cache)}
    for m in args.select:
        refs = list(discover([m]).images)
        fs = feature_set(bundle, refs, cache)
        for fmt, sel in (("png", ~fs["region"]), ("dicom", fs["region"])):
            if sel.any():
                sets[f"in:{m.parent.name}:{fmt}"] = {k: v[sel] for k, v in fs.items()}
    for m in args.ood_select:
        refs = list(discover([m]).images)
        sets[f"out:{m.parent.name}"] = feature_set(bundle, refs, cache)
    results = []
    for stages in (("layer4",), ("layer3", "layer4"), ("layer2", "layer3", "layer4"), STAGES):
        for per_framing in (False, True):
            for keep in (0.95, 0.975, 0.99, 0.995):
                r = evaluate(stages, per_framing, keep, sets)
                results.append({"stages": stages, "per_framing": per_framing, "keep": keep} | r)
                print(json.dumps(results[-1]), file=sys.stderr)
    args.out.write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
