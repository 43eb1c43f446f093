"""The run state as named fields: checkpoint round trip and model selection."""

import argparse

from training.engine import EpochStats, ValidationScores
from training.run_files import LOG_COLUMNS
from training.run_state import EpochRecord, RunState
from training.train import select


def _val(loss: float, auroc: float | None = 0.5) -> ValidationScores:
    return ValidationScores(loss=loss, accuracy=0.5, patient_accuracy=None, auroc=auroc)


def _record(epoch: int, best: bool) -> EpochRecord:
    stats = EpochStats(loss=1.0, accuracy=0.25, images=8, lr=1e-3)
    return EpochRecord.of(epoch, stats, _val(0.9), seconds=1.26, best=best)


def test_checkpoint_keys_and_round_trip():
    state = RunState(
        epochs_done=2,
        best_score=0.9,
        best_epoch=0,
        bad_epochs=1,
        history=(_record(1, True), _record(2, False)),
        world_size=2,
    )
    saved = state.to_checkpoint()
    assert list(saved) == [
        "epoch",
        "best_score",
        "best_epoch",
        "bad_epochs",
        "history",
        "stopped_early",
        "world_size",
    ]
    assert list(saved["history"][0]) == list(LOG_COLUMNS)
    assert saved["history"][0]["seconds"] == 1.3 and saved["history"][1]["best"] is False
    assert RunState.from_checkpoint(saved) == state


def test_select_tracks_best_and_patience():
    args = argparse.Namespace(select_metric="val_loss", patience=2)
    state, is_best = select(RunState(), _val(1.0), 0, args)
    assert is_best and state.best_epoch == 0 and state.best_score == 1.0
    state, is_best = select(state, _val(1.5), 1, args)
    assert not is_best and state.bad_epochs == 1 and state.stopped_early is False
    state, is_best = select(state, _val(1.2), 2, args)
    assert not is_best and state.bad_epochs == 2 and state.stopped_early is True
    assert state.best_epoch == 0


def test_select_skips_an_undefined_score():
    args = argparse.Namespace(select_metric="val_auroc", patience=0)
    state, is_best = select(RunState(), _val(1.0, auroc=None), 0, args)
    assert not is_best and state.best_epoch == -1 and state.stopped_early is False
