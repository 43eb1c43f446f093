"""What one ``cnsight-train`` run carries from step to step, as named fields.

- ``TrainingData``: the taxonomy, the patient split and the labelled images of its train and
  validation parts (the test part is never selected, so it cannot be loaded by mistake).
- ``EpochRecord``: one row of the history (``log.csv``, TensorBoard, the model card).
- ``RunState``: what model selection and early stopping carry from epoch to epoch; saved in
  every checkpoint so ``--resume`` continues from it.
- ``FitResult``: what the epoch loop hands to the end of the run (calibration and bundle).

The checkpoint and the model card keep their JSON-style dicts (``to_checkpoint``,
``EpochRecord.to_dict``): they are files other runs and tools read, so their keys do not change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Self

import torch

from core.records import ImageRef
from core.taxonomy import Taxonomy
from training.engine import EpochStats, ValidationScores
from training.splits import Split

#: A model's weights by parameter/buffer name (``Module.state_dict()``).
StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TrainingData:
    """The images a run trains and validates on, and the split they came from."""

    taxonomy: Taxonomy
    split: Split
    train_refs: tuple[ImageRef, ...]
    val_refs: tuple[ImageRef, ...]
    planes: tuple[str, ...] = ()  # the plane head's outputs; () = no plane head


@dataclass(frozen=True)
class EpochRecord:
    """One epoch in the history. Field order is the column order of ``log.csv``."""

    epoch: int  # 1-based
    lr: float
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    val_patient_accuracy: float | None
    val_auroc: float | None
    seconds: float
    best: bool

    @classmethod
    def of(
        cls, epoch: int, stats: EpochStats, val: ValidationScores, seconds: float, best: bool
    ) -> Self:
        return cls(
            epoch=epoch,
            lr=stats.lr,
            train_loss=stats.loss,
            train_accuracy=stats.accuracy,
            val_loss=val.loss,
            val_accuracy=val.accuracy,
            val_patient_accuracy=val.patient_accuracy,
            val_auroc=val.auroc,
            seconds=round(seconds, 1),
            best=best,
        )

    def to_dict(self) -> dict[str, float | int | bool | None]:
        """The row as written to ``log.csv``, the checkpoint and the card's ``history``."""
        return asdict(self)


@dataclass(frozen=True)
class RunState:
    """Selection and early-stopping state after ``epochs_done`` epochs (identical on every rank)."""

    epochs_done: int = 0
    best_score: float | None = None  # of --select-metric at best_epoch
    best_epoch: int = -1  # 0-based index; -1 until an epoch has been selected
    bad_epochs: int = 0  # epochs since the last improvement (early-stopping patience)
    history: tuple[EpochRecord, ...] = ()
    # False, True (patience ran out) or why the run stopped ("time limit of 30 min"): the card
    # has always stored this one value, so the reason stays in it rather than in a second field.
    stopped_early: bool | str = False
    world_size: int = 1  # DDP processes of this run (recorded in the card)

    def to_checkpoint(self) -> dict:
        """The ``state`` entry of ``checkpoint.pt`` (plain values, the keys older runs wrote)."""
        return {
            "epoch": self.epochs_done,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history": [record.to_dict() for record in self.history],
            "stopped_early": self.stopped_early,
            "world_size": self.world_size,
        }

    @classmethod
    def from_checkpoint(cls, saved: dict) -> Self:
        return cls(
            epochs_done=saved["epoch"],
            best_score=saved["best_score"],
            best_epoch=saved["best_epoch"],
            bad_epochs=saved["bad_epochs"],
            history=tuple(EpochRecord(**row) for row in saved["history"]),
            stopped_early=saved.get("stopped_early", False),
            world_size=saved.get("world_size", 1),
        )


@dataclass(frozen=True)
class FitResult:
    """The epoch loop's outcome."""

    model: torch.nn.Module  # holds the LAST epoch's weights
    best_weights: StateDict | None  # CPU copy of the selected epoch's; None if none was selected
    state: RunState
