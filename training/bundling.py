"""The end of a run: calibrate on validation, score validation, write RUN_DIR/bundle/."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.bundle import ModelCard, save_bundle
from core.metrics import calibration
from core.preprocess import PreprocessSpec
from core.records import ImageRef
from core.taxonomy import Taxonomy
from training.data import ImageDataset, augment_params, data_summary
from training.distributed import DistContext, barrier
from training.engine import collect_logits, make_loader
from training.run_files import RunPaths, args_to_dict
from training.scoring import (
    AUTO_RULE,
    choose_rule,
    fit_temperature,
    image_truth,
    quick_scores,
)
from training.splits import Split

log = logging.getLogger(f"cnsight.{__name__}")


def _summary(m: dict) -> dict:
    keep = ("n", "accuracy", "auroc_macro", "auroc_classes_absent", "confusion")
    out = {k: m[k] for k in keep}
    out["per_class"] = {
        c: {s: v for s, v in stats.items() if s != "support"} for c, stats in m["per_class"].items()
    }
    return out


def validation_report(
    refs: Sequence[ImageRef], logits: torch.Tensor, taxonomy: Taxonomy, rule: str
) -> tuple[float, dict]:
    """Fit the temperature on validation logits; metrics of the calibrated validation predictions.

    With ``rule == "auto"`` the patient rule is chosen here, on the same calibrated validation
    predictions; ``report["patient"]["rule"]`` names the rule the bundle will carry."""
    names = taxonomy.class_names
    labels = torch.from_numpy(image_truth(refs, names))
    temperature = fit_temperature(logits, labels)
    raw = torch.softmax(logits.double(), 1).numpy()
    calibrated = torch.softmax(logits.double() / temperature, 1).numpy()
    rule_choice = None
    if rule == AUTO_RULE:
        rule, candidates = choose_rule(refs, calibrated, names)
        rule_choice = {
            "chosen": rule,
            "by": "validation patients: accuracy, then NLL, then mean_softmax",
            "candidates": candidates,
        }
        log.info("patient rule chosen on validation: %s (%s)", rule, candidates)
    scores = quick_scores(refs, calibrated, names, rule)
    y = labels.numpy()
    report = {
        "split": "validation (the only data used for selection and calibration)",
        "image": _summary(scores["image"]),
        "patient": _summary(scores["patient"]) | {"rule": rule},
        "ece_before_temperature": calibration(y, raw)["ece"],
        "ece_after_temperature": calibration(y, calibrated)["ece"],
        "nll_before_temperature": calibration(y, raw)["nll"],
        "nll_after_temperature": calibration(y, calibrated)["nll"],
    }
    if rule_choice:
        report["patient_rule_selection"] = rule_choice
    log.info(
        "temperature %.3f (validation NLL %.4f -> %.4f, ECE %.4f -> %.4f)",
        temperature,
        report["nll_before_temperature"],
        report["nll_after_temperature"],
        report["ece_before_temperature"],
        report["ece_after_temperature"],
    )
    return temperature, report


def write_run_bundle(
    model: torch.nn.Module,
    taxonomy: Taxonomy,
    train_refs,
    val_refs,
    split: Split,
    state: dict,
    temperature: float,
    val_report: dict,
    args: argparse.Namespace,
    run: RunPaths,
    data_source: str,
) -> ModelCard:
    """``save_bundle`` with a card that says what data, split, recipe and validation made it."""
    names = taxonomy.class_names
    training_data = {
        "source": data_source,
        "all_used": data_summary(list(train_refs) + list(val_refs), names),
        "train": data_summary(train_refs, names),
        "validation": data_summary(val_refs, names),
        "test_patients_held_out": len(split.test),
    }
    training = {
        "command": args.command,
        "args": args_to_dict(args),
        "split": split.summary(),
        "recipe": {
            "optimizer": f"AdamW lr {args.lr:g} weight decay {args.weight_decay:g}",
            "schedule": f"{args.warmup_epochs:g} warm-up epoch(s), cosine decay over {args.epochs} epochs",
            "loss": "cross-entropy"
            + ("" if args.no_class_weights else ", class-weighted N/(K n_k)"),
            "augmentation": augment_params(args).to_dict(),
            "batch_size": args.batch_size,
        },
        "processes": state.get("world_size", 1),
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"] + 1,
        "selected_by": f"{args.select_metric} on the validation split",
        "stopped_early": state.get("stopped_early", False),
        "history": state["history"],
    }
    card = ModelCard(
        name=args.name or f"{args.arch}-{run.root.name}",
        architecture=args.arch,
        taxonomy=taxonomy,
        preprocessing=PreprocessSpec(resize=args.resize, crop=args.crop),
        aggregation=val_report["patient"]["rule"],
        temperature=float(np.round(temperature, 6)),
        training_data=training_data,
        validation_metrics=val_report,
        training=training,
        description=args.description or "Research use only - not for diagnosis.",
    )
    written = save_bundle(model, card, run.bundle, half=args.half)
    log.info(
        "bundle %s (%s weights, sha256 %s)",
        run.bundle,
        written.weights_dtype,
        written.weights_sha256[:12],
    )
    return written


def finish(
    model, best_weights, state, taxonomy, study, train_refs, val_refs, split, args, run, ctx,
    device: torch.device | None = None,
) -> Path:  # fmt: skip
    """Rank 0: best weights -> temperature on validation -> validation metrics -> bundle.

    The calibration logits come from the training device in fp32 (no AMP), as the app and
    cnsight-eval compute them; the bundle is written from a CPU copy."""
    if ctx.is_main:
        device = device or torch.device("cpu")
        if best_weights is not None:
            model.load_state_dict(best_weights)
        model = model.to(device).to(memory_format=torch.contiguous_format).float()
        spec = PreprocessSpec(resize=args.resize, crop=args.crop)
        loader = make_loader(
            ImageDataset(val_refs, taxonomy.class_names, spec),
            args.batch_size,
            args.workers,
            DistContext(),
            args.seed,
            train=False,
        )
        by_index = collect_logits(
            model,
            loader,
            device,
            DistContext(),
            False,
            False,
            progress=not args.no_progress,
            desc="calibration",
        )
        indices = sorted(by_index)
        temperature, report = validation_report(
            [val_refs[i] for i in indices],
            torch.stack([by_index[i] for i in indices]),
            taxonomy,
            args.aggregation,
        )
        write_run_bundle(
            model.to("cpu"),
            taxonomy,
            train_refs,
            val_refs,
            split,
            state,
            temperature,
            report,
            args,
            run,
            str(args.data),
        )
    barrier(ctx)
    return run.bundle
