"""The end of a run: calibrate on validation, score validation, write RUN_DIR/bundle/."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
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
from training.run_state import FitResult, RunState, TrainingData
from training.scoring import (
    AUTO_RULE,
    choose_rule,
    fit_temperature,
    image_truth,
    quick_scores,
)

log = logging.getLogger(f"cnsight.{__name__}")


def _summary(m: dict) -> dict:
    keep = ("n", "accuracy", "auroc_macro", "auroc_classes_absent", "confusion")
    out = {k: m[k] for k in keep}
    out["per_class"] = {
        c: {s: v for s, v in stats.items() if s != "support"} for c, stats in m["per_class"].items()
    }
    return out


@dataclass(frozen=True)
class ValidationCalibration:
    """The temperature fitted on the validation logits and what it was judged on."""

    temperature: float
    rule: str  # the patient rule the bundle carries (chosen here when --aggregation auto)
    metrics: dict  # the card's validation_metrics section (JSON, shown to readers of the card)


def validation_report(
    refs: Sequence[ImageRef], logits: torch.Tensor, taxonomy: Taxonomy, rule: str
) -> ValidationCalibration:
    """Fit the temperature on validation logits; metrics of the calibrated validation predictions.

    With ``rule == "auto"`` the patient rule is chosen here, on the same calibrated validation
    predictions; the result's ``rule`` (and ``metrics["patient"]["rule"]``) names it."""
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
    before, after = calibration(y, raw), calibration(y, calibrated)
    report = {
        "split": "validation (the only data used for selection and calibration)",
        "image": _summary(scores["image"]),
        "patient": _summary(scores["patient"]) | {"rule": rule},
        "ece_before_temperature": before["ece"],
        "ece_after_temperature": after["ece"],
        "nll_before_temperature": before["nll"],
        "nll_after_temperature": after["nll"],
    }
    if rule_choice:
        report["patient_rule_selection"] = rule_choice
    log.info(
        "temperature %.3f (validation NLL %.4f -> %.4f, ECE %.4f -> %.4f)",
        temperature,
        before["nll"],
        after["nll"],
        before["ece"],
        after["ece"],
    )
    return ValidationCalibration(temperature=temperature, rule=rule, metrics=report)


def write_run_bundle(
    model: torch.nn.Module,
    data: TrainingData,
    state: RunState,
    calibrated: ValidationCalibration,
    args: argparse.Namespace,
    run: RunPaths,
) -> ModelCard:
    """``save_bundle`` with a card that says what data, split, recipe and validation made it."""
    names = data.taxonomy.class_names
    training_data = {
        "source": str(args.data),
        "all_used": data_summary([*data.train_refs, *data.val_refs], names),
        "train": data_summary(data.train_refs, names),
        "validation": data_summary(data.val_refs, names),
        "test_patients_held_out": len(data.split.test),
    }
    training = {
        "command": args.command,
        "args": args_to_dict(args),
        "split": data.split.summary(),
        "recipe": {
            "optimizer": f"AdamW lr {args.lr:g} weight decay {args.weight_decay:g}",
            "schedule": f"{args.warmup_epochs:g} warm-up epoch(s), cosine decay over {args.epochs} epochs",
            "loss": "cross-entropy"
            + ("" if args.no_class_weights else ", class-weighted N/(K n_k)"),
            "augmentation": augment_params(args).to_dict(),
            "batch_size": args.batch_size,
        },
        "processes": state.world_size,
        "epochs_run": state.epochs_done,
        "best_epoch": state.best_epoch + 1,
        "selected_by": f"{args.select_metric} on the validation split",
        "stopped_early": state.stopped_early,
        "history": [record.to_dict() for record in state.history],
    }
    card = ModelCard(
        name=args.name or f"{args.arch}-{run.root.name}",
        architecture=args.arch,
        taxonomy=data.taxonomy,
        preprocessing=PreprocessSpec(resize=args.resize, crop=args.crop),
        aggregation=calibrated.rule,
        temperature=float(np.round(calibrated.temperature, 6)),
        training_data=training_data,
        validation_metrics=calibrated.metrics,
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


def calibrate_on_validation(
    model: torch.nn.Module, data: TrainingData, args: argparse.Namespace, device: torch.device
) -> ValidationCalibration:
    """Validation logits in fp32 without AMP, in this one process (as the app and cnsight-eval
    compute them), then the temperature and the validation metrics."""
    spec = PreprocessSpec(resize=args.resize, crop=args.crop)
    single_process = DistContext()
    loader = make_loader(
        ImageDataset(data.val_refs, data.taxonomy.class_names, spec),
        args.batch_size,
        args.workers,
        single_process,
        args.seed,
        train=False,
    )
    by_index = collect_logits(
        model,
        loader,
        device,
        single_process,
        amp=False,
        channels_last=False,
        progress=not args.no_progress,
        desc="calibration",
    )
    indices = sorted(by_index)
    return validation_report(
        [data.val_refs[i] for i in indices],
        torch.stack([by_index[i] for i in indices]),
        data.taxonomy,
        args.aggregation,
    )


def finish(
    *,
    fitted: FitResult,
    data: TrainingData,
    args: argparse.Namespace,
    run: RunPaths,
    ctx: DistContext,
    device: torch.device,
) -> Path:
    """Rank 0: best weights -> temperature on validation -> validation metrics -> bundle.

    The calibration logits come from the training device in fp32 (no AMP); the bundle is
    written from a CPU copy. Every rank waits here until the bundle exists."""
    if ctx.is_main:
        model = fitted.model
        if fitted.best_weights is not None:
            model.load_state_dict(fitted.best_weights)
        model = model.to(device).to(memory_format=torch.contiguous_format).float()
        calibrated = calibrate_on_validation(model, data, args, device)
        write_run_bundle(model.to("cpu"), data, fitted.state, calibrated, args, run)
    barrier(ctx)
    return run.bundle
