"""``discover``: what is at one or more paths, as patients and per-file errors."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from core.discovery.dicomdir import DICOMDIR_NAME, find_dicomdir, read_dicomdir
from core.discovery.folder import scan_folder
from core.discovery.grouping import Found, build_patients
from core.discovery.manifest import read_manifest
from core.discovery.scan import CancelCheck, probe_into
from core.errors import DiscoveryError
from core.records import Cohort, FileError
from core.taxonomy import DEFAULT_CLASS_NAMES

log = logging.getLogger(f"cnsight.{__name__}")

PathInput = str | os.PathLike


def _as_paths(inputs: PathInput | Sequence[PathInput]) -> list[Path]:
    if isinstance(inputs, str | os.PathLike):
        return [Path(inputs)]
    return [Path(p) for p in inputs]


def _discover_one(path: Path, class_names: Sequence[str] | None, cancelled: CancelCheck) -> Found:
    if not path.exists():
        raise DiscoveryError(f"{path}: no such file or folder")
    if path.is_dir():
        dicomdir = find_dicomdir(path)
        if dicomdir is not None:
            return read_dicomdir(dicomdir, cancelled)
        return scan_folder(path, class_names or DEFAULT_CLASS_NAMES, cancelled)
    if path.suffix.lower() == ".csv":
        return read_manifest(path, class_names, cancelled)
    if path.name.upper() == DICOMDIR_NAME:
        return read_dicomdir(path, cancelled)
    found = Found()
    probe_into(found, path, folder_id=path.parent.name or str(path.parent))
    return found


def _input_failed(path: Path, n_inputs: int, exc: DiscoveryError) -> Found:
    """One input that cannot be read as a whole (a missing path, a manifest or DICOMDIR that
    is not one): the error itself when it is the only input, else one FileError row so the
    other inputs still run."""
    if n_inputs == 1:
        raise exc
    log.warning("%s", exc)
    found = Found()
    message = str(exc)
    prefix = f"{path}: "
    found.errors.append(
        FileError(str(path), message[len(prefix) :] if message.startswith(prefix) else message)
    )
    return found


def _why_empty(found: Found) -> str:
    if found.errors:
        first = found.errors[0]
        return f"{len(found.errors)} file(s) could not be used, e.g. {first.path}: {first.message}"
    if found.skipped:
        return f"no image or DICOM files ({found.skipped} other file(s) skipped)"
    return "it is empty"


def discover(
    inputs: PathInput | Sequence[PathInput],
    class_names: Sequence[str] | None = None,
    *,
    cancelled: CancelCheck = None,
) -> Cohort:
    """Find the patients and images at ``inputs`` (files and folders in any mix).

    - ``*.csv``: a manifest (``path,patient_id[,label,ga_weeks,site,plane]``); labels are
      checked against ``class_names`` when given.
    - ``DICOMDIR``, or a folder with one at its root: the images it references.
    - a folder: the dataset layout ``<class_name>/<patient_id>/*`` when an immediate subfolder
      is named like a class (``class_names``, default the built-in taxonomy); otherwise every
      image/DICOM file below it, DICOM grouped by PatientID then StudyInstanceUID, images by
      folder.
    - any other file: that image (its folder's name as patient id unless DICOM gives one).

    Files are read header-only; each unusable file becomes one ``FileError`` and the rest still
    loads. Raises DiscoveryError for a missing path, an unreadable manifest/DICOMDIR, or when no
    usable image is found; CancelledError when ``cancelled()`` turns true.
    """
    paths = _as_paths(inputs)
    if not paths:
        raise DiscoveryError("nothing to open: no path given")
    names = tuple(class_names) if class_names is not None else None
    found = Found()
    for path in paths:
        try:
            one = _discover_one(path, names, cancelled)
        except OSError as exc:
            one = _input_failed(
                path, len(paths), DiscoveryError(f"{path}: cannot be read ({exc.strerror or exc})")
            )
        except DiscoveryError as exc:
            one = _input_failed(path, len(paths), exc)
        if len(paths) > 1 and not (one.entries or one.errors or one.skipped):
            one.errors.append(FileError(str(path), "empty: no image or DICOM file"))
        found.extend(one)
    source = str(paths[0]) if len(paths) == 1 else "; ".join(str(p) for p in paths)
    patients = build_patients(found.entries)
    if not patients:
        raise DiscoveryError(f"no images found in {source}: {_why_empty(found)}")
    shown = source if len(paths) == 1 else f"{paths[0]} and {len(paths) - 1} more input(s)"
    log.info(
        "%s: %d patient(s), %d image(s), %d unusable file(s)",
        shown, len(patients), sum(len(p.images) for p in patients), len(found.errors),
    )  # fmt: skip
    return Cohort(source=source, patients=patients, errors=tuple(found.errors))
