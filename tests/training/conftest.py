"""Training-test fixtures: one tiny dataset and one finished tiny run per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.training_data import tiny_args, write_dataset


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture(scope="session")
def tiny_run(tiny_manifest, tmp_path_factory) -> Path:
    """One finished tiny training run (test split held out, fp16 bundle), shared by test modules."""
    from training.train import main

    out = tmp_path_factory.mktemp("run")
    assert main(tiny_args(tiny_manifest, out, "--test-fraction", "0.25", "--half")) == 0
    return out
