"""Checkpoints (every epoch, for ``--resume``) and loading of ``--init-weights``.

A checkpoint holds everything the next epoch depends on: weights, optimizer, LR schedule,
AMP scaler, the selection/early-stopping state, the log history and every RNG state, so a
resumed run continues exactly as an uninterrupted one would.

Checkpoints hold tensors and plain values only (the NumPy RNG state as a tensor), so they are
read with ``torch.load(weights_only=True)``: a ``checkpoint.pt`` someone planted in a run folder
cannot run code when ``--resume`` opens it (a full unpickle would execute whatever the file
says). Nothing in ``training/`` unpickles arbitrary objects.
"""

from __future__ import annotations

import logging
import pickle
import random
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from core.errors import BundleError
from training.errors import TrainingError

log = logging.getLogger(f"cnsight.{__name__}")
CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best_weights.pt"


def rng_states() -> dict:
    """Every RNG's state as tensors and plain values (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "python": random.getstate(),  # (version, tuple of ints, None)
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    n = states["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
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
    """A checkpoint or best-weights file, read without unpickling arbitrary objects."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TrainingError(
            f"--resume {path}: not a checkpoint this CNSight can read safely ({first[:200]}). "
            "Checkpoints hold tensors and plain values only; a file with other pickled objects "
            "(planted, or written before checkpoints were made safe to load) is refused, "
            "never executed - start the run again"
        ) from None
    model = ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise TrainingError(f"--resume {path}: not a CNSight checkpoint (no model weights in it)")
    return ckpt


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
