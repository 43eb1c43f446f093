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
    """Mean class probabilities over a group's predicted frames (None if none predicted yet)."""
    rows = [predictions[r.key].probs for r in group.refs if r.key in predictions]
    if not rows:
        return None
    return np.mean(np.stack(rows), axis=0)


def patient_key(record) -> str:
    """Key of a patient's study: patient id plus study UID (a Patient or one of its ImageRefs).

    One patient may have two studies in a folder; they are two entries, never merged.
    """
    return f"{record.patient_id}|{record.study_uid}" if record.study_uid else record.patient_id
