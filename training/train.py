"""``cnsight-train``: train a classifier and write a bundle the app loads.

Read top to bottom: arguments, data and split, model and recipe, the epoch loop (train,
validate, select, checkpoint), then temperature scaling and the bundle. Test patients are
written to ``RUN_DIR/splits/test.csv`` for ``cnsight-eval`` and never loaded here: model
selection, early stopping and the temperature see the validation patients only.

Multi-GPU / multi-node: ``torchrun --nproc_per_node N -m training.train ...`` (``--batch-size``
is the global batch, split evenly over processes; only rank 0 writes).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from core.aggregation import RULES
from core.devices import DEFAULT_DEVICE, DEVICES
from core.errors import CNSightError
from core.feature_domain import DEFAULT_KEEP, DEFAULT_STAGES, FEATURE_GROUPS
from core.model import ARCHITECTURES, pick_device
from core.preprocess import FRAMINGS, PAD_TO_SQUARE
from core.taxonomy import DEFAULT_CLASS_NAMES, Taxonomy
from training.bundling import finish
from training.data import class_weights, load_cohort, plane_names, select_images
from training.distributed import (
    DistContext,
    all_reduce_sum,
    cleanup,
    init_distributed,
    process_device,
    sync_buffers,
)
from training.engine import ValidationScores, set_epoch, train_one_epoch, validate
from training.recipe import build_network, build_recipe, resume, save_epoch
from training.run_files import (
    EpochLog,
    RunPaths,
    command_line,
    prepare_run,
    run_log,
    setup_logging,
    split_and_record,
)
from training.run_state import EpochRecord, FitResult, RunState, TrainingData
from training.scoring import AUTO_RULE

log = logging.getLogger("cnsight.train")


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnsight-train",
        add_help=add_help,
        description="Train a CNSight classifier and write RUN_DIR/bundle/. "
        "Research use only - not for diagnosis.",
    )
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        type=Path,
        required=True,
        help="manifest CSV, <class>/<patient_id>/ folder, or DICOM folder",
    )
    g.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="CSV patient_id,label[,ga_weeks,site] for unlabelled data (DICOM)",
    )
    g.add_argument(
        "--classes",
        default=",".join(DEFAULT_CLASS_NAMES),
        help="class names in output order, comma-separated",
    )
    g.add_argument(
        "--out", type=Path, required=True, help="run folder (checkpoints, logs, bundle/)"
    )
    g = p.add_argument_group("split (patient-grouped, class-stratified)")
    g.add_argument("--split", default="holdout", choices=["holdout", "kfold", "site"])
    g.add_argument(
        "--val-fraction", type=float, default=0.2, help="validation share of patients (default 0.2)"
    )
    g.add_argument(
        "--test-fraction",
        type=float,
        default=0.0,
        help="holdout: test share of patients (default 0)",
    )
    g.add_argument("--folds", type=int, default=5)
    g.add_argument("--fold", type=int, default=0, help="kfold: which fold is the test set")
    g.add_argument("--test-site", default=None, help="site: the site left out as test set")
    g = p.add_argument_group("model and input")
    g.add_argument("--arch", default="resnet34", choices=sorted(ARCHITECTURES))
    g.add_argument(
        "--init-weights",
        type=Path,
        default=None,
        help="local weights (.pth/.pt/.safetensors), e.g. ImageNet",
    )
    g.add_argument(
        "--framing",
        default=PAD_TO_SQUARE,
        choices=FRAMINGS,
        help="pad_to_square: the whole ultrasound region, padded (default); "
        "resize_short_centre_crop: the published study's centre crop (edges unseen)",
    )
    g.add_argument(
        "--resize", type=int, default=256, help="centre-crop framing: short side after resize"
    )
    g.add_argument("--crop", type=int, default=224, help="model input size (crop x crop)")
    g.add_argument(
        "--planes",
        default="auto",
        choices=["auto", "none"],
        help="plane head: auto = when the training images carry plane labels (manifest 'plane')",
    )
    g.add_argument("--plane-loss-weight", type=float, default=0.5)
    g.add_argument(
        "--domain-keep",
        type=float,
        default=DEFAULT_KEEP,
        help=f"out-of-distribution threshold: share of validation images it keeps (default {DEFAULT_KEEP})",
    )
    g.add_argument(
        "--domain-fit-images",
        type=int,
        default=6000,
        help="training images (seeded sample) the domain statistics are fitted on",
    )
    g.add_argument(
        "--domain-stages",
        nargs="+",
        default=list(DEFAULT_STAGES),
        choices=FEATURE_GROUPS,
        help="network stages (and 'texture', the pixel grain at full resolution) the "
        "out-of-distribution score combines "
        f"(default {' '.join(DEFAULT_STAGES)}; docs/training.md)",
    )
    g.add_argument(
        "--aggregation",
        default="mean_softmax",
        choices=[*RULES, AUTO_RULE],
        help="patient rule stored in the bundle; auto: chosen on the validation patients "
        "(patient accuracy, then NLL, then mean_softmax)",
    )
    g = p.add_argument_group("recipe (defaults = the published study's)")
    g.add_argument("--epochs", type=int, default=20)
    g.add_argument(
        "--batch-size", type=int, default=128, help="global batch (split over DDP processes)"
    )
    g.add_argument("--lr", type=float, default=5e-4)
    g.add_argument("--weight-decay", type=float, default=5e-2)
    g.add_argument("--warmup-epochs", type=float, default=1.0)
    g.add_argument(
        "--min-lr-ratio", type=float, default=0.0, help="cosine floor as a fraction of --lr"
    )
    g.add_argument("--label-smoothing", type=float, default=0.0)
    g.add_argument(
        "--no-class-weights",
        action="store_true",
        help="plain instead of class-weighted cross-entropy",
    )
    g.add_argument(
        "--select-metric",
        default="val_loss",
        choices=["val_loss", "val_accuracy", "val_patient_accuracy", "val_auroc"],
        help="validation metric that picks the best epoch (default val_loss)",
    )
    g.add_argument(
        "--patience",
        type=int,
        default=5,
        help="early stopping: epochs without improvement (0 = off)",
    )
    g = p.add_argument_group("augmentation (core.augment)")
    g.add_argument("--aug-scale", type=float, nargs=2, default=(0.35, 1.0), metavar=("MIN", "MAX"))
    g.add_argument("--aug-rotation", type=float, default=10.0, help="degrees")
    g.add_argument("--aug-hflip", type=float, default=0.5)
    g.add_argument("--aug-brightness", type=float, default=0.2)
    g.add_argument("--aug-contrast", type=float, default=0.2)
    g.add_argument("--aug-gamma", type=float, default=0.2)
    g.add_argument("--aug-speckle", type=float, default=0.15)
    g = p.add_argument_group("runtime")
    g.add_argument("--device", default=DEFAULT_DEVICE, help=f"{', '.join(DEVICES)} or cuda:N")
    g.add_argument("--workers", type=int, default=4, help="DataLoader worker processes")
    g.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mixed precision (CUDA only)",
    )
    g.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, default=True, help="(CUDA only)"
    )
    g.add_argument("--seed", type=int, default=0)
    g.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="stop after the last epoch that is expected to end within MINUTES of training "
        "(for scheduler time limits); the best epoch so far is bundled as usual",
    )
    g.add_argument(
        "--resume", type=Path, default=None, help="checkpoint file or run folder to continue"
    )
    g.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=True)
    g.add_argument("--no-progress", action="store_true")
    g = p.add_argument_group("bundle")
    g.add_argument(
        "--name", default=None, help="model name in the card (default: ARCH-RUN_DIR name)"
    )
    g.add_argument("--description", default="")
    g.add_argument("--half", action="store_true", help="store fp16 weights (half the size)")
    return p


def improved(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value < best if metric == "val_loss" else value > best


def select(
    state: RunState, val: ValidationScores, epoch: int, args: argparse.Namespace
) -> tuple[RunState, bool]:
    """Model selection and early stopping, from validation metrics only (identical on every rank).
    Returns the new state and whether ``epoch`` is the new best."""
    score = val.score(args.select_metric)
    is_best = score is not None and improved(args.select_metric, score, state.best_score)
    if is_best:
        state = replace(state, best_score=score, best_epoch=epoch, bad_epochs=0)
    else:
        state = replace(state, bad_epochs=state.bad_epochs + 1)
    patience_ran_out = bool(args.patience and state.bad_epochs >= args.patience)
    return replace(state, stopped_early=patience_ran_out), is_best


def fit(
    model: torch.nn.Module,
    weights: torch.Tensor | None,
    data: TrainingData,
    args: argparse.Namespace,
    run: RunPaths,
    ctx: DistContext,
    device: torch.device,
) -> FitResult:
    """The epoch loop: train, validate, select, checkpoint, until the last epoch or a stop."""
    r = build_recipe(model, weights, data, args, ctx, device)
    state, best_weights = RunState(), None
    if args.resume is not None:
        state, best_weights = resume(args, model, r, data, run)
    state = replace(state, world_size=ctx.world_size)
    epoch_log = EpochLog(run, ctx, args.tensorboard)
    fit_started, first_epoch = time.perf_counter(), state.epochs_done
    for epoch in range(state.epochs_done, args.epochs):
        started = time.perf_counter()
        set_epoch(r.train_loader, epoch)
        stats = train_one_epoch(r, device, epoch, ctx, progress=not args.no_progress)
        sync_buffers(model, ctx)
        val = validate(model, r, data.val_refs, data.taxonomy, args, ctx, device)
        state, is_best = select(state, val, epoch, args)
        if is_best:
            best_weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        record = EpochRecord.of(epoch + 1, stats, val, time.perf_counter() - started, is_best)
        state = replace(state, epochs_done=epoch + 1, history=(*state.history, record))
        log_epoch(record, args)
        if ctx.is_main:
            new_best = best_weights if is_best else None
            save_epoch(run, model, r, state, new_best, data, args)
        epoch_log.write(state.history)
        if out_of_time(fit_started, epoch + 1 - first_epoch, args, ctx, device):
            state = replace(state, stopped_early=f"time limit of {args.time_limit:g} min")
            log.info("stopping: another epoch would not end within --time-limit")
            break
        if state.stopped_early:
            log.info(
                "early stopping: %s did not improve for %d epochs",
                args.select_metric,
                args.patience,
            )
            break
    epoch_log.close()
    return FitResult(model=model, best_weights=best_weights, state=state)


def out_of_time(started: float, epochs_done: int, args, ctx: DistContext, device) -> bool:
    """Whether one more epoch (at the mean pace so far) would end past ``--time-limit``.
    Any rank out of time stops all ranks, so every process leaves the loop together."""
    if not args.time_limit or epochs_done < 1:
        return False
    elapsed = time.perf_counter() - started
    late = elapsed + elapsed / epochs_done > args.time_limit * 60.0
    flag = torch.tensor([1.0 if late else 0.0], device=device)
    return bool(all_reduce_sum(flag, ctx).item() > 0)


def log_epoch(record: EpochRecord, args: argparse.Namespace) -> None:
    log.info(
        "epoch %d/%d: train loss %.4f acc %.3f | val loss %.4f acc %.3f patient acc %s auroc %s%s",
        record.epoch, args.epochs, record.train_loss, record.train_accuracy, record.val_loss,
        record.val_accuracy, _fmt(record.val_patient_accuracy), _fmt(record.val_auroc),
        " (best)" if record.best else "",
    )  # fmt: skip


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def train(args: argparse.Namespace) -> Path:
    """Run the whole training; returns the bundle folder."""
    requested = pick_device(args.device)
    ctx = init_distributed(requested.type)
    try:
        device = process_device(requested, ctx)
        taxonomy = Taxonomy(tuple(c.strip() for c in args.classes.split(",")))
        run = prepare_run(args, ctx)
        with run_log(run, ctx):
            return train_run(args, taxonomy, run, ctx, device)
    finally:
        cleanup(ctx)


def train_run(
    args: argparse.Namespace,
    taxonomy: Taxonomy,
    run: RunPaths,
    ctx: DistContext,
    device: torch.device,
) -> Path:
    # Data and the patient split. The test split's images are never selected below.
    study = load_cohort(args.data, taxonomy.class_names, args.labels)
    split = split_and_record(study, taxonomy.class_names, args, run, ctx)
    data = TrainingData(
        taxonomy=taxonomy,
        split=split,
        train_refs=tuple(select_images(study, split.train)),
        val_refs=tuple(select_images(study, split.val)),
        planes=plane_names(select_images(study, split.train), args.planes),
    )
    log.info(
        "train %d images / %d patients, validation %d / %d, test %d patients held out (not loaded)",
        len(data.train_refs),
        len(split.train),
        len(data.val_refs),
        len(split.val),
        len(split.test),
    )

    # Model and recipe, then the epoch loop.
    if data.planes:
        log.info("plane head: %s", ", ".join(data.planes))
    model = build_network(
        args, len(taxonomy), len(data.planes), device,
        channels_last=device.type == "cuda" and args.channels_last,
    )  # fmt: skip
    weights = (
        None if args.no_class_weights else class_weights(data.train_refs, taxonomy.class_names)
    )
    if weights is not None:
        log.info(
            "class weights: %s",
            dict(zip(taxonomy.class_names, (round(w, 3) for w in weights.tolist()), strict=True)),
        )
    fitted = fit(model, weights, data, args, run, ctx, device)

    # Temperature and validation metrics, then the bundle.
    return finish(fitted=fitted, data=data, args=args, run=run, ctx=ctx, device=device)


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Console entry point. Exit codes: 0 done, 2 bad input (message logged), 1 other error."""
    if not isinstance(args, argparse.Namespace):
        argv = args
        args = get_args_parser().parse_args(argv)
        args.command = command_line("cnsight-train", argv)
    elif not getattr(args, "command", None):
        args.command = command_line("cnsight-train", None)
    setup_logging()
    try:
        bundle = train(args)
    except CNSightError as e:
        log.error("%s", e)
        return 2
    log.info("bundle written to %s", bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
