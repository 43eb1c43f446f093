"""Checkpoints (every epoch, for ``--resume``) and loading of ``--init-weights``.

A checkpoint holds everything the next epoch depends on: weights, optimizer, LR schedule,
AMP scaler, the selection/early-stopping state, the log history and every RNG state, so a
resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from core.errors import BundleError

log = logging.getLogger(f"cnsight.{__name__}")
CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best_weights.pt"


def rng_states() -> dict:
    states = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically (temp file + rename): a kill during the write leaves the previous one."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def resolve_checkpoint(resume: Path) -> Path:
    """``--resume`` accepts the checkpoint file or the run folder that holds it."""
    resume = Path(resume)
    path = resume / CHECKPOINT_NAME if resume.is_dir() else resume
    if not path.is_file():
        raise BundleError(f"--resume {resume}: no checkpoint found (expected {path})")
    return path


def load_checkpoint(path: Path) -> dict:
    # Our own file, with optimizer state and RNG states (numpy arrays): not weights_only.
    return torch.load(path, map_location="cpu", weights_only=False)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise BundleError(f"--init-weights {path}: no such file")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise BundleError(f"--init-weights {path}: cannot read weights ({e})") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise BundleError(f"--init-weights {path}: expected a state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_init_weights(model: torch.nn.Module, path: Path) -> list[str]:
    """Load local weights (e.g. ImageNet, or a bundle's) strictly, except the heads: a classifier
    head of another size, and a plane head the weights do not have or that has another size,
    are left freshly initialised. Returns the keys that were not loaded (logged)."""
    state = _read_state_dict(Path(path))
    own = model.state_dict()
    heads = ("fc.weight", "fc.bias", "plane_head.weight", "plane_head.bias")
    head = [k for k in heads if k in own and (k not in state or state[k].shape != own[k].shape)]
    head += [k for k in heads if k in state and k not in own]  # a plane head this run lacks
    for k in head:
        state.pop(k, None)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if unexpected or set(missing) - set(head) or not state:
        raise BundleError(
            f"--init-weights {path}: keys do not match the architecture: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]} (no silent partial loading)"
        )
    for key, tensor in state.items():
        if tensor.shape != own[key].shape:
            raise BundleError(
                f"--init-weights {path}: {key} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(own[key].shape)}"
            )
    model.load_state_dict(state, strict=False)
    if head:
        log.info(
            "init weights %s loaded; head weights %s freshly initialised (absent or resized)",
            path,
            head,
        )
    else:
        log.info("init weights %s loaded (all keys)", path)
    return head
