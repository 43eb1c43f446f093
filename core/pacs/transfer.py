"""What the app and ``cnsight-pacs`` do with a node: test it, search, retrieve into the cache,
send files. One entry point each, whichever protocol (DIMSE or DICOMweb) does the work."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from . import dicomweb, dimse
from .cache import CachedStudy, StudyCache
from .dimse import DicomFile, Progress, SendReport, _no_progress
from .errors import NodeConfigError, PacsError, SendFailed
from .nodes import PacsNode
from .query import StudyQuery, StudyRecord

#: Retrieve methods: C-MOVE to our Storage SCP, C-GET on the same association, WADO-RS.
RETRIEVE_METHODS = ("move", "get", "wadors")
#: Send methods: C-STORE (DIMSE) or STOW-RS (DICOMweb).
SEND_METHODS = ("store", "stow")
#: Search protocols: C-FIND (DIMSE) or QIDO-RS (DICOMweb).
SEARCH_METHODS = ("cfind", "qido")
#: The methods that go by DICOMweb; every other one is DIMSE.
DICOMWEB_METHODS = frozenset({"wadors", "stow", "qido"})


def node_supports(node, method: str) -> bool:
    """Whether ``node`` is set up for ``method`` (a DICOMweb URL for DICOMweb methods, an AE
    title, host and port for DIMSE ones): the one rule the app's dialogs enable methods by."""
    return bool(node.dicomweb_url) if method in DICOMWEB_METHODS else node.has_dimse


@dataclass(frozen=True)
class ConnectionCheck:
    """What "Test connection" found: one line per protocol configured on the node."""

    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def test_connection(node: PacsNode) -> ConnectionCheck:
    """C-ECHO (when the node has a DICOM address) and a QIDO-RS search (when it has a DICOMweb
    URL); raises the first PacsError."""
    if not node.has_dimse and not node.dicomweb_url:
        raise NodeConfigError(f"PACS node {node.name!r} has neither a DICOM address nor a URL")
    lines = []
    if node.has_dimse:
        seconds = dimse.echo(node)
        lines.append(
            f"C-ECHO to {node.ae_title}@{node.host}:{node.port}: OK ({seconds * 1000:.0f} ms)"
        )
    if node.dicomweb_url:
        dicomweb.echo(node)
        lines.append(f"DICOMweb at {node.dicomweb_url}: OK")
    return ConnectionCheck(tuple(lines))


def default_search_method(node: PacsNode) -> str:
    return "cfind" if node.has_dimse else "qido"


def search(node: PacsNode, query: StudyQuery, method: str | None = None) -> list[StudyRecord]:
    method = method or default_search_method(node)
    if method == "cfind":
        return dimse.find_studies(node, query)
    if method == "qido":
        return dicomweb.find_studies(node, query)
    raise NodeConfigError(f"unknown search method {method!r} (one of {', '.join(SEARCH_METHODS)})")


def retrieve(
    node: PacsNode,
    study_uid: str,
    cache: StudyCache,
    method: str = "move",
    progress: Progress = _no_progress,
    cancel: threading.Event | None = None,
    refresh: bool = False,
) -> CachedStudy:
    """The study in the cache, retrieved now unless already complete there (or ``refresh``).

    On any failure nothing of the study is left in the cache (the writer is abandoned)."""
    if method not in RETRIEVE_METHODS:
        raise NodeConfigError(
            f"unknown retrieve method {method!r} (one of {', '.join(RETRIEVE_METHODS)})"
        )
    if not refresh:
        cached = cache.get(study_uid)
        if cached is not None:
            cache.touch(study_uid)
            return cached
    cancel = cancel or threading.Event()
    source = f"{node.name} ({method})"
    with cache.begin(study_uid, source) as writer:
        if method == "move":
            return dimse.move_study(node, writer, progress, cancel)
        if method == "get":
            return dimse.get_study(node, writer, progress, cancel)
        return dicomweb.retrieve_study(node, writer, progress, cancel)


def _is_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def collect_dicom_files(paths: Iterable[Path]) -> list[DicomFile]:
    """The DICOM files among ``paths`` (folders are searched; files without the DICM preamble
    inside folders are skipped, a named file that is not DICOM is refused)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and _is_dicom(p))
        elif path.is_file():
            if not _is_dicom(path):
                raise SendFailed(f"{path}: not a DICOM file (no DICM preamble); nothing was sent")
            found.append(path)
        else:
            raise SendFailed(f"{path}: no such file or folder; nothing was sent")
    files = []
    for path in found:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            files.append(
                DicomFile(
                    path=path,
                    sop_class_uid=str(ds.file_meta.MediaStorageSOPClassUID),
                    sop_instance_uid=str(ds.file_meta.MediaStorageSOPInstanceUID),
                    transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
                    study_uid=str(ds.get("StudyInstanceUID", "")),
                    series_uid=str(ds.get("SeriesInstanceUID", "")),
                )
            )
        except (InvalidDicomError, AttributeError, OSError, ValueError) as exc:
            raise SendFailed(
                f"{path}: not a readable DICOM file ({exc}); nothing was sent"
            ) from exc
    if not files:
        raise SendFailed(
            "no DICOM files to send in " + ", ".join(str(p) for p in paths) + "; nothing was sent"
        )
    return files


def send(
    node: PacsNode,
    paths: Sequence[Path],
    method: str = "store",
    progress: Progress = _no_progress,
    cancel: threading.Event | None = None,
) -> SendReport:
    """Send the DICOM files under ``paths`` by C-STORE or STOW-RS."""
    files = collect_dicom_files(paths)
    if method == "store":
        return dimse.store_files(node, files, progress, cancel)
    if method == "stow":
        return dicomweb.store_files(node, files, progress, cancel)
    raise NodeConfigError(f"unknown send method {method!r} (one of {', '.join(SEND_METHODS)})")


__all__ = [
    "DICOMWEB_METHODS",
    "RETRIEVE_METHODS",
    "SEARCH_METHODS",
    "SEND_METHODS",
    "ConnectionCheck",
    "PacsError",
    "collect_dicom_files",
    "node_supports",
    "retrieve",
    "search",
    "send",
    "test_connection",
]
