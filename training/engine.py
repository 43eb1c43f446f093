"""One epoch of training, validation logits, the learning-rate schedule and the data loaders."""

from __future__ import annotations

import logging
import math
import multiprocessing
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import cv2
import torch
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from core.model import FeatureTap, plane_head
from core.records import ImageRef
from core.taxonomy import Taxonomy
from training.data import ImageDataset, collate_readable
from training.distributed import DistContext, all_gather_objects, all_reduce_sum
from training.scoring import epoch_rule, image_truth, quick_scores

log = logging.getLogger(f"cnsight.{__name__}")


@dataclass(frozen=True)
class EpochStats:
    loss: float
    accuracy: float
    images: int
    lr: float


@dataclass(frozen=True)
class ValidationScores:
    """One epoch's validation: the training criterion (no augmentation) and image/patient scores."""

    loss: float
    accuracy: float
    patient_accuracy: float | None  # None: no validation patient with a single label
    auroc: float | None  # macro AUROC over images; None when no class is scorable

    def score(self, select_metric: str) -> float | None:
        """The value ``--select-metric`` names (``val_loss``, ``val_accuracy``, ...)."""
        by_metric = {
            "val_loss": self.loss,
            "val_accuracy": self.accuracy,
            "val_patient_accuracy": self.patient_accuracy,
            "val_auroc": self.auroc,
        }
        return by_metric[select_metric]


@dataclass(frozen=True)
class Recipe:
    """Everything an epoch needs, built once per run."""

    net: torch.nn.Module  # the model, DDP-wrapped under torchrun
    criterion: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    train_loader: DataLoader
    val_loader: DataLoader
    amp: bool
    channels_last: bool
    plane_targets: torch.Tensor | None = None  # plane index per training item (-1: unknown)
    plane_weight: float = 0.5  # weight of the plane loss beside the class loss


def warmup_cosine(total_steps: int, warmup_steps: int, min_ratio: float = 0.0):
    """LR multiplier per optimizer step: linear warm-up to 1, then cosine decay to ``min_ratio``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def make_loader(
    dataset: ImageDataset,
    batch_size: int,
    workers: int,
    ctx: DistContext,
    seed: int,
    train: bool,
    pin_memory: bool = False,
) -> DataLoader:
    """A loader over this rank's shard. The sampler is a DistributedSampler even in one process:
    its order depends only on (seed, epoch), which is what makes ``--resume`` continue identically."""
    sampler = DistributedSampler(
        dataset,
        num_replicas=ctx.world_size,
        rank=ctx.rank,
        shuffle=train,
        seed=seed,
        drop_last=False,
    )
    per_rank = len(sampler)
    # BatchNorm cannot train on a batch of one: drop the ragged last batch when there is more than one.
    drop_last = train and per_rank > batch_size
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_readable,
        drop_last=drop_last,
        pin_memory=pin_memory,
        persistent_workers=False,
        worker_init_fn=_one_thread_per_worker if workers else None,
        multiprocessing_context=_worker_context() if workers else None,
    )


def _worker_context() -> str:
    """Workers start from a fork server, not by forking this process: a process that has run
    threads (BLAS, OpenMP, a CUDA context) can hand a forked child a lock held by a thread that
    does not exist there, and the child waits forever (seen: cross-validation's second fold,
    after the first fold's domain statistics). The server preloads the data modules, so a
    worker starts in a fraction of a second."""
    multiprocessing.set_forkserver_preload(["training.data", "core.imaging", "core.augment"])
    return "forkserver"


def _one_thread_per_worker(_worker_id: int) -> None:
    """PyTorch gives each worker one intra-op thread; OpenCV would still start one thread per
    core in every worker (16 workers x 16 threads on a GPU node), which slows loading down."""
    cv2.setNumThreads(1)


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Shuffle order and augmentation draws of ``epoch`` (call before iterating)."""
    loader.sampler.set_epoch(epoch)
    loader.dataset.set_epoch(epoch)


def _autocast(device: torch.device, amp: bool):
    return (
        torch.autocast(device_type="cuda", dtype=torch.float16)
        if amp and device.type == "cuda"
        else nullcontext()
    )


def _to_device(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def train_one_epoch(
    r: Recipe, device: torch.device, epoch: int, ctx: DistContext, progress: bool
) -> EpochStats:
    """One pass over this rank's shard; returns loss/accuracy summed over all ranks."""
    r.net.train()
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, images
    head = plane_head(r.net) if r.plane_targets is not None else None
    # The plane head reads the pooled layer4 features of the same forward pass.
    tap = FeatureTap(r.net) if head is not None else nullcontext()
    bar = tqdm(
        r.train_loader,
        desc=f"epoch {epoch + 1} train",
        disable=not (progress and ctx.is_main),
        leave=False,
        dynamic_ncols=True,
    )
    with tap:
        for batch in bar:
            if batch is None:
                continue  # every image of this batch was unreadable (logged by the dataset)
            _train_step(r, batch, device, tap, head, totals)
            bar.set_postfix(lr=f"{r.scheduler.get_last_lr()[0]:.2e}")
    totals = all_reduce_sum(totals, ctx)
    n = max(1.0, float(totals[2]))
    return EpochStats(
        loss=float(totals[0]) / n,
        accuracy=float(totals[1]) / n,
        images=int(totals[2]),
        lr=float(r.scheduler.get_last_lr()[0]),
    )


def _train_step(r: Recipe, batch, device, tap, head, totals: torch.Tensor) -> None:
    """One optimiser step: class loss (+ weighted plane loss when the run has a plane head)."""
    images, targets, indices = batch
    images = _to_device(images, device, r.channels_last)
    targets = targets.to(device, non_blocking=True)
    with _autocast(device, r.amp):
        logits = r.net(images)
        loss = r.criterion(logits, targets)
        if head is not None:
            planes = r.plane_targets[indices.to(r.plane_targets.device)]
            plane_logits, known = head(tap.pooled()), planes >= 0
            # A batch without plane labels still uses the head (x 0): under DDP every rank
            # must produce a gradient for every parameter, or the all-reduce waits forever.
            plane_loss = (
                torch.nn.functional.cross_entropy(plane_logits[known], planes[known])
                if known.any()
                else plane_logits.sum() * 0.0
            )
            loss = loss + r.plane_weight * plane_loss
    r.optimizer.zero_grad(set_to_none=True)
    r.scaler.scale(loss).backward()
    r.scaler.step(r.optimizer)
    r.scaler.update()
    with warnings.catch_warnings():
        # With AMP, GradScaler skips the few first steps whose fp16 gradients overflow while
        # it calibrates its scale; PyTorch then warns that the scheduler stepped before the
        # optimizer. Expected: the schedule counts steps, skipped or not.
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step()`")
        r.scheduler.step()
    n = targets.shape[0]
    correct = (logits.argmax(1) == targets).sum().item()
    totals += torch.tensor([loss.item() * n, correct, n], dtype=torch.float64)


@torch.no_grad()
def collect_logits(
    model,
    loader: DataLoader,
    device: torch.device,
    ctx: DistContext,
    amp: bool,
    channels_last: bool,
    progress: bool,
    desc: str = "validation",
) -> dict[int, torch.Tensor]:
    """Logits of every readable image of ``loader.dataset``, by dataset index, on EVERY rank
    (shards are gathered), so all ranks compute the same metrics and take the same decisions."""
    model.eval()
    mine: dict[int, torch.Tensor] = {}
    for batch in tqdm(
        loader, desc=desc, disable=not (progress and ctx.is_main), leave=False, dynamic_ncols=True
    ):
        if batch is None:
            continue
        images, _, indices = batch
        with _autocast(device, amp):
            logits = model(_to_device(images, device, channels_last))
        for i, row in zip(indices.tolist(), logits.float().cpu(), strict=True):
            mine[i] = row
    merged: dict[int, torch.Tensor] = {}
    # DistributedSampler pads shards by repeating indices: the duplicates collapse here.
    for part in all_gather_objects(mine, ctx):
        merged.update(part)
    return merged


def validate(
    model, r: Recipe, refs: Sequence[ImageRef], taxonomy: Taxonomy, args, ctx: DistContext, device
) -> ValidationScores:
    """Validation loss (the training criterion, no augmentation) and image/patient scores."""
    progress = not args.no_progress
    by_index = collect_logits(model, r.val_loader, device, ctx, r.amp, r.channels_last, progress)
    indices = sorted(by_index)
    logits = torch.stack([by_index[i] for i in indices])
    seen = [refs[i] for i in indices]
    labels = torch.from_numpy(image_truth(seen, taxonomy.class_names))
    loss = float(r.criterion(logits.to(device), labels.to(device)))
    probs = torch.softmax(logits.double(), 1).numpy()
    scores = quick_scores(seen, probs, taxonomy.class_names, epoch_rule(args.aggregation))
    return ValidationScores(
        loss=loss,
        accuracy=scores["image"]["accuracy"],
        patient_accuracy=scores["patient"]["accuracy"],
        auroc=scores["image"]["auroc_macro"],
    )
