"""--resume never unpickles arbitrary objects (issue 15): a planted checkpoint cannot run code."""

import random

import numpy as np
import pytest
import torch

from tests.support.training_data import tiny_args
from training.checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from training.errors import TrainingError
from training.train import main


class _Payload:
    """Unpickling this calls open(marker, "w"): the proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path, marker):
    torch.save({"model": {"fc.weight": torch.zeros(1)}, "rng": _Payload(marker)}, path)


def test_a_planted_pickle_payload_is_refused_not_executed(tmp_path):
    planted, marker = tmp_path / "checkpoint.pt", tmp_path / "PWNED"
    _plant(planted, marker)
    with pytest.raises(TrainingError, match="refused, never executed"):
        load_checkpoint(planted)
    assert not marker.exists()


def test_cnsight_train_resume_from_a_planted_run_folder_exits_2_and_runs_nothing(
    tiny_manifest, tmp_path
):
    run, marker = tmp_path / "run", tmp_path / "PWNED"
    run.mkdir()
    _plant(run / "checkpoint.pt", marker)
    assert main(tiny_args(tiny_manifest, tmp_path / "out", "--resume", str(run))) == 2
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_unreadable_or_foreign_checkpoints_get_one_clear_error(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    if content is None:
        torch.save({"weights": [1, 2]}, path)  # loadable, but not ours
    else:
        path.write_bytes(content)
    with pytest.raises(TrainingError, match=str(path)):
        load_checkpoint(path)


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    np.random.standard_normal()  # a cached gaussian is part of NumPy's state
    save_checkpoint(tmp_path / "c.pt", {"model": {"w": torch.ones(2)}, "rng": rng_states()})
    expected = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    restore_rng_states(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert (
        random.random(),
        np.random.standard_normal(3).tolist(),
        torch.rand(3).tolist(),
    ) == expected
