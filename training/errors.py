"""The training domain's error class, under core's base so every CLI reports it the same way."""

from __future__ import annotations

from core.errors import CNSightError


class TrainingError(CNSightError):
    """Training or evaluation cannot go on: its data, split or ``--resume`` checkpoint is
    unusable. The message says which and why."""
