"""Where the shipped resources (demo model, demo study) live: source tree, installed or frozen."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resource_dir() -> Path:
    """``$CNSIGHT_RESOURCES``, else the PyInstaller bundle's copy, else the repo's ``resources/``."""
    env = os.environ.get("CNSIGHT_RESOURCES")
    if env:
        return Path(env)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def demo_model_dir() -> Path:
    return resource_dir() / "demo_model"


def demo_study_dir() -> Path:
    return resource_dir() / "demo_study"
