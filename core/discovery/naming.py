"""Natural sort keys ("img2" before "img10") and folder-based patient ids."""

from __future__ import annotations

import re
from pathlib import Path

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key ordering digit runs by value: "img2" < "img10"; case-insensitive first,
    the original text breaks ties (so "img02" and "img2" still have a fixed order)."""
    parts = _DIGITS.split(text.casefold())
    key = tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
    return key, text


def folder_patient_id(folder: Path, root: Path) -> str:
    """Patient id for files without one: the folder's path relative to the scanned root
    (posix separators), or the root folder's own name for files directly in it."""
    try:
        rel = folder.relative_to(root)
    except ValueError:
        return folder.name
    return rel.as_posix() if rel.parts else root.name or str(root)
