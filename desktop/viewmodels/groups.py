"""Display items: the frames of one multi-frame file form one item (a cine), a single-frame
file is an item of one frame. Pure functions over core records, no Qt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.records import ImageRef


@dataclass(frozen=True)
class ImageGroup:
    """One file of a patient: its frames in order (one ref for a single-frame file)."""

    path: Path
    refs: tuple[ImageRef, ...]

    @property
    def is_cine(self) -> bool:
        return len(self.refs) > 1

    @property
    def n_frames(self) -> int:
        return len(self.refs)

    @property
    def key(self) -> str:
        return str(self.path)


def group_images(images: Sequence[ImageRef]) -> tuple[ImageGroup, ...]:
    """Group refs by file path, keeping the order in which files first appear."""
    by_path: dict[Path, list[ImageRef]] = {}
    for ref in images:
        by_path.setdefault(ref.path, []).append(ref)
    groups = []
    for path, refs in by_path.items():
        refs.sort(key=lambda r: -1 if r.frame is None else r.frame)
        groups.append(ImageGroup(path=path, refs=tuple(refs)))
    return tuple(groups)


def group_probabilities(group: ImageGroup, predictions: Mapping[str, object]) -> np.ndarray | None:
    """Mean class probabilities over a group's predicted, assessable frames (None if there are
    none: not predicted yet, or nothing the model can assess - see ``group_check``)."""
    rows = [
        predictions[r.key].probs
        for r in group.refs
        if r.key in predictions and predictions[r.key].assessable
    ]
    if not rows:
        return None
    return np.mean(np.stack(rows), axis=0)


def group_check(group: ImageGroup, predictions: Mapping[str, object]):
    """The domain check of a group once predicted: None while no frame is predicted; the first
    predicted frame's check when none is assessable; else an assessable check."""
    done = [predictions[r.key] for r in group.refs if r.key in predictions]
    if not done:
        return None
    return next((p.check for p in done if p.assessable), done[0].check)


def patient_key(record) -> str:
    """Key of a patient's study: patient id plus study UID (a Patient or one of its ImageRefs).

    One patient may have two studies in a folder; they are two entries, never merged.
    """
    return f"{record.patient_id}|{record.study_uid}" if record.study_uid else record.patient_id
