"""Cross-validation: ``python -m training.crossval --data D --out DIR [cnsight-train options]``.

Trains one model per fold with ``cnsight-train``'s own ``main`` (``--split kfold``: grouped,
stratified folds, each fold the test set once; or ``--split site``: every site left out once),
predicts each fold's test patients with that fold's bundle through ``core.predictor.Predictor``
(as ``cnsight-eval`` does), pools the out-of-fold predictions and scores them once, with
patient-bootstrap CIs. Every patient is predicted by exactly one model that never saw it;
selection and calibration inside each fold used that fold's validation patients only.

Writes DIR/fold<i>/ (each training run), DIR/metrics.json (pooled, plus per-fold summaries),
DIR/report.html and DIR/images.csv.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from pathlib import Path

import numpy as np

from core.bundle import load_bundle
from core.errors import CNSightError
from core.metrics import json_ready
from core.predictor import Predictor
from training import train
from training.data import load_cohort
from training.errors import TrainingError
from training.evaluate import RESEARCH_USE_ONLY, write_prediction_csvs
from training.predictions import Predictions, predict_images
from training.report import write_report
from training.run_files import command_line, setup_logging
from training.scoring import AUTO_RULE, quick_scores, score_predictions
from training.splits import patient_rows

log = logging.getLogger("cnsight.crossval")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.crossval",
        parents=[train.get_args_parser(add_help=False)],
        description="Grouped cross-validation with cnsight-train; pooled out-of-fold "
        f"metrics with patient-bootstrap CIs. {RESEARCH_USE_ONLY}",
    )
    p.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap replicates for the pooled 95%% CIs"
    )
    p.add_argument("--eval-batch-size", type=int, default=32)
    p.set_defaults(split="kfold")
    return p


def fold_plan(args: argparse.Namespace) -> list[dict]:
    """The per-fold overrides of the training arguments."""
    if args.aggregation == AUTO_RULE:
        # Each fold would choose its own rule, but the pooled out-of-fold metrics need one.
        raise TrainingError(
            "cross-validation pools every fold under one patient rule: pass a fixed "
            "--aggregation (mean_softmax, majority_vote or geometric_mean), not auto"
        )
    if args.split == "kfold":
        return [{"fold": i, "out": Path(args.out) / f"fold{i}"} for i in range(args.folds)]
    if args.split == "site":
        taxonomy = [c.strip() for c in args.classes.split(",")]
        sites = sorted(
            {r.site for r in patient_rows(load_cohort(args.data, taxonomy, args.labels)) if r.site}
        )
        if len(sites) < 2:
            raise TrainingError(
                f"leave-one-site-out needs at least two sites; found {sites or 'none'}"
            )
        return [{"test_site": s, "out": Path(args.out) / f"site_{s}"} for s in sites]
    raise TrainingError("cross-validation needs --split kfold or --split site")


def predict_fold(bundle_dir: Path, test_manifest: Path, args: argparse.Namespace) -> Predictions:
    bundle = load_bundle(bundle_dir)
    study = load_cohort(test_manifest, bundle.card.class_names)
    refs = [r for r in study.images if r.label in bundle.card.class_names]
    with Predictor(bundle, device=args.device, batch_size=args.eval_batch_size) as predictor:
        return predict_images(predictor, refs, progress=not args.no_progress)


def run_folds(args: argparse.Namespace) -> tuple[Predictions, list[dict]]:
    """Train and predict every fold; the pooled out-of-fold predictions and per-fold summaries."""
    refs, probs, errors, folds = [], [], [], []
    checks, scores_ood, planes = [], [], []
    names = tuple(c.strip() for c in args.classes.split(","))
    for plan in fold_plan(args):
        fold_args = copy.copy(args)
        vars(fold_args).update(plan)
        fold_args.command = f"{args.command}  # fold: {plan}"
        log.info("=== %s ===", plan)
        bundle = train.train(fold_args)
        predictions = predict_fold(bundle, Path(fold_args.out) / "splits" / "test.csv", fold_args)
        scores = quick_scores(predictions.refs, predictions.probs, names, args.aggregation)
        folds.append(
            {
                "fold": {k: str(v) for k, v in plan.items()},
                "test_images": len(predictions.refs),
                "test_patients": scores["patient"]["n"],
                "image_accuracy": scores["image"]["accuracy"],
                "patient_accuracy": scores["patient"]["accuracy"],
                "image_auroc_macro": scores["image"]["auroc_macro"],
                "patient_auroc_macro": scores["patient"]["auroc_macro"],
                "temperature": load_bundle(bundle).card.temperature,
                # Out-of-distribution check of the fold's own bundle on its held-out images.
                "test_images_assessable": float(np.mean(predictions.assessable))
                if predictions.checks
                else None,
            }
        )
        log.info("fold result: %s", folds[-1])
        refs += predictions.refs
        probs.append(predictions.probs)
        errors += predictions.errors
        checks += predictions.checks
        planes += predictions.planes
        n = len(predictions.refs)
        scores_ood.append(
            np.full(n, np.nan) if predictions.ood_scores is None else predictions.ood_scores
        )
    pooled = Predictions(
        refs, np.concatenate(probs), errors, checks, np.concatenate(scores_ood), planes
    )
    return pooled, folds


def crossvalidate(args: argparse.Namespace) -> dict:
    names = tuple(c.strip() for c in args.classes.split(","))
    pooled, folds = run_folds(args)
    out = Path(args.out)
    metrics = score_predictions(
        pooled.refs,
        pooled.probs,
        names,
        rule=args.aggregation,
        n_boot=args.bootstrap,
        seed=args.seed,
    )
    per_fold = {
        k: [f[k] for f in folds]
        for k in ("patient_accuracy", "patient_auroc_macro", "image_accuracy")
    }
    metrics = json_ready(
        {
            "research_use_only": RESEARCH_USE_ONLY,
            "command": args.command,
            "model": {
                "name": f"{args.arch} {len(folds)}-fold cross-validation",
                "architecture": args.arch,
            },
            "data": {
                "source": str(args.data),
                "images": len(pooled.refs),
                "patients": len({r.patient_id for r in pooled.refs}),
            },
            "pooling": "out-of-fold predictions of every fold's model on its own test patients, scored together",
            **metrics,
            "folds": folds,
            "fold_mean_sd": {
                k: {
                    "mean": float(np.nanmean(np.array(v, dtype=float))),
                    "sd": float(np.nanstd(np.array(v, dtype=float), ddof=1))
                    if len(v) > 1
                    else None,
                }
                for k, v in per_fold.items()
            },
            "errors": [
                {"path": r.key, "message": m, "stage": "read", "patient_id": r.patient_id}
                for r, m in pooled.errors
            ],
        }
    )
    (out / "metrics.json").write_text(
        json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    write_prediction_csvs(out, pooled, names, args.aggregation)
    write_report(out / "report.html", metrics, pooled.refs, pooled.probs, names)
    return metrics


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    args.command = command_line("python -m training.crossval", argv)
    setup_logging()
    try:
        metrics = crossvalidate(args)
    except CNSightError as e:
        log.error("%s", e)
        return 2
    log.info(
        "pooled: patient accuracy %.4f, macro AUROC %s; image accuracy %.4f -> %s",
        metrics["patient"]["accuracy"],
        metrics["patient"]["auroc_macro"],
        metrics["image"]["accuracy"],
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
