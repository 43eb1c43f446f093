"""A study's measurements on disk: one JSON file beside the study's images.

The file is ``cnsight-measurements.json`` in the deepest folder that holds all the study's
image files; images are keyed by their path relative to it (POSIX), plus ``#frame`` for a
frame of a multi-frame file, so the study folder can be moved or copied with its
measurements. What each measurement measured when saved (value, unit, scale source) is
written beside its points for readers without the app; the app recomputes from the points.

Writes are atomic (a temporary file, then rename). A file that cannot be read is never
overwritten: the next save moves it aside as ``cnsight-measurements.json.unreadable-N``
and says so.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from core.errors import CNSightError
from core.measurements.measure import Measurement, Result

log = logging.getLogger(f"cnsight.{__name__}")

SIDECAR_NAME = "cnsight-measurements.json"
FORMAT = "cnsight-measurements"
VERSION = 1


class MeasurementFileError(CNSightError):
    """The measurements file cannot be read or written; the message names it and says why."""


def sidecar_folder(image_paths: Iterable[Path]) -> Path | None:
    """The deepest folder holding every image file (None without images)."""
    parents = [Path(os.path.abspath(p)).parent for p in image_paths]
    if not parents:
        return None
    return Path(os.path.commonpath([str(p) for p in parents]))


def image_key(folder: Path, path: Path, frame: int | None) -> str:
    rel = Path(os.path.relpath(os.path.abspath(path), folder)).as_posix()
    return rel if frame is None else f"{rel}#{frame}"


def _measurement(raw: dict, where: str) -> Measurement:
    try:
        return Measurement(
            kind=str(raw["kind"]),
            points=tuple((float(x), float(y)) for x, y in raw["points"]),
            id=str(raw["id"]),
            created=str(raw.get("created", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def load(path: Path) -> dict[str, list[Measurement]]:
    """Measurements per image key; {} when the file does not exist."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MeasurementFileError(f"{path}: cannot read the measurements file: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MeasurementFileError(f"{path}: not a CNSight measurements file")
    if data.get("version") != VERSION:
        raise MeasurementFileError(
            f"{path}: measurements file version {data.get('version')!r}; "
            f"this CNSight reads version {VERSION}"
        )
    out: dict[str, list[Measurement]] = {}
    images = data.get("images")
    if not isinstance(images, dict):
        raise MeasurementFileError(f"{path}: no 'images' table")
    for key, items in images.items():
        try:
            out[str(key)] = [_measurement(raw, f"image {key}") for raw in items]
        except (TypeError, ValueError) as exc:
            raise MeasurementFileError(f"{path}: a measurement cannot be read ({exc})") from exc
    return out


def _entry(m: Measurement, result: Result | None) -> dict:
    entry = {"id": m.id, "kind": m.kind, "points": [list(p) for p in m.points]}
    entry["created"] = m.created
    if result is not None:
        entry |= {
            "value": round(result.value, 3),
            "unit": result.unit,
            "scale": result.scale.source or result.scale.reason,
        }
        if result.area is not None:
            entry["area"] = round(result.area, 3)
        if result.ga is not None:
            entry["ga_weeks"] = round(result.ga.weeks, 2)
            entry["ga_chart"] = result.ga.chart
    return entry


def move_aside(path: Path) -> Path:
    """Rename an unreadable file out of the way (never deleted); returns the new name."""
    n = 1
    while (target := path.with_name(f"{path.name}.unreadable-{n}")).exists():
        n += 1
    os.replace(path, target)
    log.warning("unreadable measurements file %s moved to %s", path, target)
    return target


def save(
    path: Path,
    measurements: dict[str, list[Measurement]],
    results: dict[str, Result] | None = None,
) -> None:
    """Write every image's measurements atomically (``results`` by measurement id, optional)."""
    results = results or {}
    data = {
        "format": FORMAT,
        "version": VERSION,
        "images": {
            key: [_entry(m, results.get(m.id)) for m in items]
            for key, items in sorted(measurements.items())
            if items
        },
    }
    text = json.dumps(data, indent=1, ensure_ascii=False)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".cnsight-measurements-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise MeasurementFileError(
            f"{path}: cannot save the measurements: {exc.strerror or exc}"
        ) from exc
