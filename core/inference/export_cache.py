"""Where exported graphs live: one file per bundle weights (sha256) and export recipe, in a
cache folder, never in the bundle (a bundle is sealed: core.bundle_seal).

Writes are atomic (a temporary file in the same folder, then ``os.replace``), and each graph
has a sidecar ``.json`` with its own sha256, written last: a graph whose sidecar is missing or
does not match (an interrupted write, a disk error, a hand edit) is not used but exported again.
New weights have another sha256, hence another file: a changed bundle is re-exported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "CNSIGHT_CACHE_DIR"


def cache_root() -> Path:
    """``$CNSIGHT_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnsight``, else ``~/.cache/cnsight``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnsight"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def recipe_key(recipe: dict) -> str:
    """A short, stable name for everything that decides the graph's contents."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cached_path(kind: str, weights_sha256: str, recipe: dict, root: Path | None = None) -> Path:
    return (root or cache_root()) / kind / f"{weights_sha256[:16]}-{recipe_key(recipe)}.onnx"


def sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def is_intact(path: Path) -> bool:
    """The graph exists and matches the sha256 its sidecar recorded when it was written."""
    try:
        recorded = json.loads(sidecar(path).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return path.is_file() and file_sha256(path) == recorded


def write_atomically(path: Path, produce: Callable[[Path], None], meta: dict) -> Path:
    """``produce(tmp)`` writes the graph to a temporary path; it then replaces ``path`` and the
    sidecar (with the graph's sha256 and ``meta``) is written last."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        produce(tmp)
        digest = file_sha256(tmp)
        with contextlib.suppress(FileNotFoundError):
            sidecar(path).unlink()  # a reader never pairs the new graph with an old sidecar
        os.replace(tmp, path)
        _write_text_atomically(sidecar(path), json.dumps(meta | {"sha256": digest}, indent=1))
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_text_atomically(path: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".sidecar-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp_name, path)
