"""Manifest CSV: ``path,patient_id,label,ga_weeks,site,plane`` (only path and patient_id are
required; paths relative to the CSV's folder; extra columns are ignored)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from core.discovery.grouping import Found
from core.discovery.naming import folder_patient_id
from core.discovery.scan import CancelCheck, check_cancel, probe_into
from core.errors import DiscoveryError
from core.records import FileError

REQUIRED_COLUMNS = ("path", "patient_id")
OPTIONAL_COLUMNS = ("label", "ga_weeks", "site", "plane")
#: Plausible gestational ages, in weeks.
GA_RANGE = (0.0, 45.0)


class RowError(ValueError):
    """A manifest row that cannot be used (message is user-facing)."""


def _cell(row: dict, column: str) -> str | None:
    value = row.get(column)
    value = value.strip() if isinstance(value, str) else None
    return value or None


def parse_ga_weeks(text: str | None) -> float | None:
    """The ``ga_weeks`` cell as a number of weeks (None when empty)."""
    if text is None:
        return None
    try:
        weeks = float(text)
    except ValueError:
        raise RowError(f"non-numeric ga_weeks {text!r}") from None
    if not math.isfinite(weeks) or not GA_RANGE[0] <= weeks <= GA_RANGE[1]:
        raise RowError(f"ga_weeks {text!r} is outside {GA_RANGE[0]:g}-{GA_RANGE[1]:g} weeks")
    return weeks


def parse_label(text: str | None, class_names: Sequence[str] | None) -> str | None:
    """The ``label`` cell, checked against ``class_names`` when given."""
    if text is None or class_names is None or text in class_names:
        return text
    raise RowError(f"unknown label {text!r} (known: {', '.join(class_names)})")


def _resolve_row_path(csv_path: Path, cell: str) -> Path:
    """The row's path, relative to the CSV's folder; Windows separators are accepted."""
    path = (csv_path.parent / cell).resolve()
    if not path.exists() and "\\" in cell:
        path = (csv_path.parent / cell.replace("\\", "/")).resolve()
    return path


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _read_rows(csv_path: Path) -> list[dict]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise DiscoveryError(
                    f"manifest {csv_path}: missing required column(s) {', '.join(missing)} "
                    f"(columns: path,patient_id[,label,ga_weeks,site,plane])"
                )
            reader.fieldnames = columns
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DiscoveryError(f"manifest {csv_path}: cannot be read as CSV ({exc})") from exc


def _row_fields(row: dict, class_names: Sequence[str] | None) -> dict:
    return {
        "label": parse_label(_cell(row, "label"), class_names),
        "ga_weeks": parse_ga_weeks(_cell(row, "ga_weeks")),
        "site": _cell(row, "site"),
        "plane": _cell(row, "plane"),
    }


def read_manifest(
    csv_path: Path, class_names: Sequence[str] | None = None, cancelled: CancelCheck = None
) -> Found:
    """Every row becomes its images or one FileError naming the row and the reason."""
    found = Found()
    rows = _read_rows(csv_path)
    if not rows:
        raise DiscoveryError(f"no images found in manifest {csv_path}: it has no rows")
    seen: dict[Path, int] = {}
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        check_cancel(cancelled)
        where = f"manifest {csv_path.name} line {number}"
        cell = _cell(row, "path")
        if cell is None:
            found.errors.append(FileError(f"{csv_path}:{number}", f"{where}: empty path"))
            continue
        try:
            path = _resolve_row_path(csv_path, cell)
        except (ValueError, OSError, RuntimeError) as exc:  # NUL byte, symlink loop, ...
            found.errors.append(
                FileError(f"{csv_path}:{number}", f"{where}: unusable path {cell!r} ({exc})")
            )
            continue
        try:
            patient_id = _cell(row, "patient_id")
            if patient_id is None:
                raise RowError("empty patient_id")
            if path in seen:
                raise RowError(f"listed twice (first on line {seen[path]})")
            if not _is_file(path):
                raise RowError("file not found")
            fields = _row_fields(row, class_names)
        except RowError as exc:
            found.errors.append(FileError(str(path), f"{where}: {exc}"))
            continue
        seen[path] = number
        probe_into(
            found, path, folder_id=folder_patient_id(path.parent, csv_path.parent),
            patient_id=patient_id, by_study=False, **fields,
        )  # fmt: skip
    return found
