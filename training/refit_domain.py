"""Re-fit a bundle's out-of-distribution statistics on its own training data, weights unchanged.

    python -m training.refit_domain --model BUNDLE --data TRAINING_DATA --out NEW_BUNDLE \
        [--domain-stages layer3 layer4] [--domain-keep 0.95] [--domain-fit-images N]

For when the score's method changes (e.g. the stages it combines) and retraining the network
would be wasted: the patient split is rebuilt from the arguments the card records and must give
the same split digest (otherwise this is not the data the bundle was trained on, and nothing is
written); then exactly what ``cnsight-train`` does at the end of a run: class means and shared
covariance on (a seeded sample of) the training split, thresholds on the validation split
(training/bundling.py). The weights file is copied byte for byte (its sha256 is unchanged), the
card keeps everything else, records the refit under ``training.domain_refit`` and is sealed
anew (a signed bundle comes out unsigned: sign it again with ``python -m core.bundle``).
Exit status: 0 written, 2 refused (message on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

from core.bundle import CARD_NAME, WEIGHTS_NAME, load_bundle, save_bundle, seal_bundle, sha256_file
from core.errors import CNSightError
from core.feature_domain import DEFAULT_STAGES, FEATURE_GROUPS
from training.bundling import collect_outputs, fit_domain
from training.data import data_summary, load_cohort, preprocess_spec, select_images
from training.errors import TrainingError
from training.feature_cache import FeatureCache
from training.run_files import setup_logging
from training.run_state import TrainingData
from training.splits import make_split, patient_rows

log = logging.getLogger("cnsight.refit_domain")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.refit_domain", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--model", type=Path, required=True, help="the bundle to re-fit")
    p.add_argument("--data", type=Path, required=True, help="the data it was trained on")
    p.add_argument("--labels", type=Path, default=None, help="labels CSV, as for training")
    p.add_argument("--out", type=Path, required=True, help="new bundle folder (must not exist)")
    p.add_argument("--domain-stages", nargs="+", default=list(DEFAULT_STAGES),
                   choices=FEATURE_GROUPS)  # fmt: skip
    p.add_argument(
        "--domain-keep",
        type=float,
        default=None,
        help="default: as the bundle's current statistics",
    )
    p.add_argument(
        "--domain-fit-images",
        type=int,
        default=None,
        help="default: as the bundle's current statistics",
    )
    p.add_argument(
        "--feature-cache", type=Path, default=None,
        help="folder keeping every image's stage features under these weights: a refit with "
        "other stages then needs no forward pass (training/feature_cache.py)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def training_args(card, args: argparse.Namespace) -> argparse.Namespace:
    """The run's recorded arguments, with this command's domain and loader options."""
    recorded = dict(card.training.get("args") or {})
    if not recorded:
        raise TrainingError(f"{args.model}: the card records no training arguments to refit with")
    recorded.update(
        domain_stages=list(args.domain_stages),
        batch_size=args.batch_size,
        workers=args.workers,
        no_progress=args.no_progress,
    )
    # Unless told otherwise, keep what the bundle's current statistics used: a refit of a refit
    # must not fall back silently to the first training run's keep and sample size.
    current = card.domain or {}
    for name, field in (("domain_keep", "keep"), ("domain_fit_images", "n_fit_images")):
        if getattr(args, name) is not None:
            recorded[name] = getattr(args, name)
        elif current.get(field) is not None:
            recorded[name] = current[field]
    run_args = argparse.Namespace(**recorded)
    if preprocess_spec(run_args) != card.preprocessing:
        raise TrainingError(f"{args.model}: the recorded arguments do not give its preprocessing")
    return run_args


def rebuilt_data(card, args: argparse.Namespace, run_args: argparse.Namespace) -> TrainingData:
    """The bundle's train / validation images, refused unless the split digest matches."""
    study = load_cohort(args.data, card.class_names, args.labels)
    split = make_split(
        patient_rows(study), kind=run_args.split, val_fraction=run_args.val_fraction,
        test_fraction=run_args.test_fraction, folds=run_args.folds, fold=run_args.fold,
        test_site=getattr(run_args, "test_site", None), seed=run_args.seed,
    )  # fmt: skip
    recorded = (card.training.get("split") or {}).get("sha256")
    if split.digest() != recorded:
        raise TrainingError(
            f"{args.data}: not the data {args.model} was trained on (patient split digest "
            f"{split.digest()[:12]}, the card records {str(recorded)[:12]}); nothing written"
        )
    data = TrainingData(
        taxonomy=card.taxonomy, split=split,
        train_refs=tuple(select_images(study, split.train)),
        val_refs=tuple(select_images(study, split.val)), planes=card.planes,
    )  # fmt: skip
    for part, refs in (("train", data.train_refs), ("validation", data.val_refs)):
        recorded_part = (card.training_data or {}).get(part)
        if recorded_part is not None and data_summary(refs, card.class_names) != recorded_part:
            raise TrainingError(
                f"{args.data}: the {part} images differ from those {args.model} was trained on "
                "(same patients, other images); nothing written"
            )
    return data


def refit(args: argparse.Namespace) -> Path:
    if args.out.exists():
        raise TrainingError(f"{args.out}: already exists; choose a new folder")
    bundle = load_bundle(args.model)
    card = bundle.card
    run_args = training_args(card, args)
    data = rebuilt_data(card, args, run_args)
    device = torch.device(args.device)
    model = bundle.model.to(device).eval()
    cache = None
    if args.feature_cache is not None:
        cache = FeatureCache.open(args.feature_cache, card.weights_sha256, card.preprocessing)
    validation = collect_outputs(model, data.val_refs, data, run_args, device, "validation", cache)
    domain, section = fit_domain(model, data, validation, run_args, device, cache)
    refit_note = {
        "command": " ".join(["python -m training.refit_domain", *(sys.argv[1:] or [])]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "weights": "unchanged",
        "previous_domain": {k: card.domain.get(k) for k in ("feature", "threshold", "sha256")},
    }
    new_card = dataclasses.replace(
        card, domain=section, training={**card.training, "domain_refit": refit_note}
    )
    half = card.weights_dtype == "float16"
    tmp = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    save_bundle(model.to("cpu"), new_card, tmp, half=half, feature_domain=domain)
    # safetensors does not write its metadata in a fixed order, so re-serialised weights can
    # differ in bytes though not in values: the original file is kept, byte for byte, and the
    # card (which names its sha256) is re-sealed over it.
    shutil.copyfile(args.model / WEIGHTS_NAME, tmp / WEIGHTS_NAME)
    if sha256_file(tmp / WEIGHTS_NAME) != card.weights_sha256:
        shutil.rmtree(tmp)
        raise TrainingError(f"{args.model}: the weights file does not match its card")
    card_path = tmp / CARD_NAME
    written = json.loads(card_path.read_text(encoding="utf-8"))
    written["weights_sha256"] = card.weights_sha256
    card_path.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    seal_bundle(tmp)
    tmp.rename(args.out)
    load_bundle(args.out)  # the new bundle loads strictly, or this raises
    log.info(
        "%s: %s, threshold %.4g (region %s), weights sha256 %s unchanged",
        args.out, "+".join(domain.stage_names), domain.threshold, domain.region_threshold,
        card.weights_sha256[:12],
    )  # fmt: skip
    return args.out


def main(argv=None) -> int:
    setup_logging()
    args = parse_args(argv)
    try:
        refit(args)
    except CNSightError as e:
        print(f"refit_domain: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
