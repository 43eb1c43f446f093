"""What ``cnsight-train`` builds once per run - the network, loaders, loss, optimiser, schedule
and AMP scaler - and how it is saved every epoch and restored by ``--resume``."""

from __future__ import annotations

import logging

import torch
from torch.nn.parallel import DistributedDataParallel

from core.model import build_model
from training.checkpoint import (
    load_checkpoint,
    load_init_weights,
    resolve_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from training.data import ImageDataset, augment_params, plane_targets, preprocess_spec
from training.distributed import DistContext
from training.engine import Recipe, make_loader, warmup_cosine
from training.errors import TrainingError
from training.run_files import RunPaths, args_to_dict
from training.run_state import RunState, StateDict, TrainingData

log = logging.getLogger("cnsight.train")

#: Arguments that shape the training trajectory: resuming with other values is allowed but logged.
TRAJECTORY_ARGS = (
    "arch",
    "framing",
    "resize",
    "crop",
    "planes",
    "plane_loss_weight",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "warmup_epochs",
    "min_lr_ratio",
    "label_smoothing",
    "no_class_weights",
    "aug_scale",
    "aug_rotation",
    "aug_hflip",
    "aug_brightness",
    "aug_contrast",
    "aug_gamma",
    "aug_speckle",
    "seed",
)


def build_network(
    args, num_classes: int, num_planes: int, device: torch.device, channels_last: bool
) -> torch.nn.Module:
    torch.manual_seed(args.seed)  # same initial weights on every rank and every rerun
    model = build_model(args.arch, num_classes, num_planes)
    if args.init_weights is not None:
        load_init_weights(model, args.init_weights)
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def build_recipe(
    model: torch.nn.Module,
    weights: torch.Tensor | None,
    data: TrainingData,
    args,
    ctx: DistContext,
    device: torch.device,
) -> Recipe:
    """Loaders (this rank's shard), loss, AdamW, warm-up + cosine per step, AMP scaler."""
    if args.batch_size % ctx.world_size:
        raise TrainingError(
            f"--batch-size {args.batch_size} must divide evenly over {ctx.world_size} processes"
        )
    spec = preprocess_spec(args)
    per_rank = args.batch_size // ctx.world_size
    use_cuda = device.type == "cuda"
    names = data.taxonomy.class_names
    train_set = ImageDataset(data.train_refs, names, spec, augment_params(args), seed=args.seed)
    val_set = ImageDataset(data.val_refs, names, spec)
    train_loader = make_loader(
        train_set, per_rank, args.workers, ctx, args.seed, train=True, pin_memory=use_cuda
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = max(1, len(train_loader)) * args.epochs
    warmup = round(args.warmup_epochs * len(train_loader))
    return Recipe(
        net=DistributedDataParallel(model, device_ids=[device.index] if use_cuda else None)
        if ctx.distributed
        else model,
        criterion=torch.nn.CrossEntropyLoss(
            weight=None if weights is None else weights.to(device),
            label_smoothing=args.label_smoothing,
        ),
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(steps, warmup, args.min_lr_ratio)
        ),
        scaler=torch.amp.GradScaler("cuda", enabled=use_cuda and args.amp),
        train_loader=train_loader,
        val_loader=make_loader(
            val_set, per_rank, args.workers, ctx, args.seed, train=False, pin_memory=use_cuda
        ),
        amp=use_cuda and args.amp,
        channels_last=use_cuda and args.channels_last,
        plane_targets=plane_targets(data.train_refs, data.planes).to(device)
        if data.planes
        else None,
        plane_weight=args.plane_loss_weight,
    )


def save_epoch(
    run: RunPaths,
    model: torch.nn.Module,
    r: Recipe,
    state: RunState,
    new_best: StateDict | None,
    data: TrainingData,
    args,
) -> None:
    """Checkpoint after every epoch (and the best weights when they changed)."""
    if new_best is not None:
        save_checkpoint(run.best_weights, {"model": new_best, "epoch": state.best_epoch})
    save_checkpoint(
        run.checkpoint,
        {
            "model": model.state_dict(),
            "optimizer": r.optimizer.state_dict(),
            "scheduler": r.scheduler.state_dict(),
            "scaler": r.scaler.state_dict(),
            "state": state.to_checkpoint(),
            "args": args_to_dict(args),
            "split_sha256": data.split.digest(),
            "class_names": list(data.taxonomy.class_names),
            "rng": rng_states(),
        },
    )


def resume(
    args, model: torch.nn.Module, r: Recipe, data: TrainingData, run: RunPaths
) -> tuple[RunState, StateDict | None]:
    """Restore everything the next epoch depends on; refuse a checkpoint of another split/taxonomy."""
    path = resolve_checkpoint(args.resume)
    ckpt = load_checkpoint(path)
    if ckpt["split_sha256"] != data.split.digest():
        raise TrainingError(
            f"--resume {path}: the checkpoint was trained on another patient split "
            "(different data, split options or seed); refusing to mix them"
        )
    if tuple(ckpt["class_names"]) != data.taxonomy.class_names:
        raise TrainingError(f"--resume {path}: class names differ ({ckpt['class_names']})")
    changed = {
        k: (v, args_to_dict(args).get(k))
        for k, v in ckpt["args"].items()
        if k in TRAJECTORY_ARGS and args_to_dict(args).get(k) != v
    }
    if changed:
        log.warning(
            "resuming with changed %s (checkpoint -> now): the run will not continue "
            "identically (e.g. a longer --epochs restarts the cosine from a higher rate)",
            changed,
        )
    model.load_state_dict(ckpt["model"])
    r.optimizer.load_state_dict(ckpt["optimizer"])
    r.scheduler.load_state_dict(ckpt["scheduler"])
    r.scaler.load_state_dict(ckpt["scaler"])
    restore_rng_states(ckpt["rng"])
    best_path = path.parent / run.best_weights.name
    best = load_checkpoint(best_path)["model"] if best_path.is_file() else None
    state = RunState.from_checkpoint(ckpt["state"])
    log.info(
        "resumed from %s after epoch %d (best epoch %d)",
        path,
        state.epochs_done,
        state.best_epoch + 1,
    )
    return state, best
