"""What a training run writes besides checkpoints: the run folder layout, the text log, the
split files, and the per-epoch CSV + TensorBoard logs. Only rank 0 writes."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from core.records import Cohort
from training.data import check_labels, select_images, write_manifest
from training.distributed import DistContext
from training.run_state import EpochRecord
from training.splits import Split, make_split, patient_rows

log = logging.getLogger(f"cnsight.{__name__}")
#: log.csv columns: one definition, the history record's fields.
LOG_COLUMNS = tuple(f.name for f in fields(EpochRecord))


def setup_logging(level: int = logging.INFO) -> None:
    """Console logging for the command-line entry points (no effect if already configured)."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )


def command_line(prog: str, argv: list[str] | None = None) -> str:
    """The command as typed: ``prog`` + ``argv`` when main() was called with a list (tests,
    cross-validation), else this process's own arguments."""
    return shlex.join([prog, *(sys.argv[1:] if argv is None else argv)])


def args_to_dict(args: argparse.Namespace) -> dict:
    """JSON-ready copy of the arguments (paths as strings)."""
    return {
        k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
        for k, v in vars(args).items()
    }


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.pt"

    @property
    def best_weights(self) -> Path:
        return self.root / "best_weights.pt"

    @property
    def log_csv(self) -> Path:
        return self.root / "log.csv"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def bundle(self) -> Path:
        return self.root / "bundle"

    @property
    def split_json(self) -> Path:
        return self.root / "split.json"

    @property
    def splits(self) -> Path:
        return self.root / "splits"


def prepare_run(args: argparse.Namespace, ctx: DistContext) -> RunPaths:
    """Create the run folder and save args + command (rank 0)."""
    run = RunPaths(Path(args.out))
    if ctx.is_main:
        run.root.mkdir(parents=True, exist_ok=True)
        record = {"command": args.command, "args": args_to_dict(args)}
        (run.root / "args.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return run


@contextmanager
def run_log(run: RunPaths, ctx: DistContext):
    """Log to RUN_DIR/train.log for the duration of one run (rank 0); other ranks log warnings only.
    The handler is removed afterwards, so several runs in one process (cross-validation, tests)
    each keep their own log."""
    root = logging.getLogger("cnsight")  # every CNSight logger is under "cnsight"
    handler, level = None, root.level
    if ctx.is_main:
        handler = logging.FileHandler(run.root / "train.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        # The run log keeps INFO even if the host configured less. The effective level, not
        # root.level: "cnsight" itself is usually NOTSET and inherits WARNING from the root.
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)
    else:
        root.setLevel(logging.WARNING)  # one voice in the console: rank 0's
    try:
        yield
    finally:
        root.setLevel(level)
        if handler is not None:
            root.removeHandler(handler)
            handler.close()


def split_and_record(
    study: Cohort, class_names, args: argparse.Namespace, run: RunPaths, ctx: DistContext
) -> Split:
    """Make the patient split and write it: split.json (ids) and splits/{train,val,test}.csv.

    ``splits/test.csv`` is what ``cnsight-eval`` should be run on after training.
    """
    check_labels(study, class_names)
    split = make_split(
        patient_rows(study),
        kind=args.split,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        folds=args.folds,
        fold=args.fold,
        test_site=args.test_site,
        seed=args.seed,
    )
    log.info(
        "split: %s; patients train %d / val %d / test %d (sha256 %s)",
        split.description,
        len(split.train),
        len(split.val),
        len(split.test),
        split.digest()[:12],
    )
    if ctx.is_main:
        run.split_json.write_text(json.dumps(split.to_dict(), indent=2) + "\n", encoding="utf-8")
        for part in ("train", "val", "test"):
            write_manifest(run.splits / f"{part}.csv", select_images(study, getattr(split, part)))
    return split


class EpochLog:
    """CSV (rewritten from the full history each epoch, so a resumed run has no duplicate rows)
    and TensorBoard scalars. A no-op on ranks other than 0."""

    def __init__(self, run: RunPaths, ctx: DistContext, tensorboard: bool):
        self.run = run
        self.enabled = ctx.is_main
        self.writer = None
        if self.enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow import: only when used

            self.writer = SummaryWriter(log_dir=str(run.tensorboard))

    def write(self, history: Sequence[EpochRecord]) -> None:
        if not self.enabled:
            return
        with open(self.run.log_csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(record.to_dict() for record in history)
        if self.writer is not None and history:
            row = history[-1].to_dict()
            for key in LOG_COLUMNS[1:-2]:
                if row.get(key) is not None:
                    self.writer.add_scalar(key.replace("_", "/", 1), row[key], row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
