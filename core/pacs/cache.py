"""The local cache of retrieved studies: a size limit, oldest evicted, nothing half-written.

Layout under the cache folder, one folder per study::

    <StudyInstanceUID>/
        .incoming/<SOPInstanceUID>.dcm.part   while an instance is being written
        instances/<SOPInstanceUID>.dcm       only whole files (renamed from .incoming)
        complete.json                        written last, atomically, when every instance arrived

A study is *complete* only when ``complete.json`` exists; the app and the CLI open only complete
studies (``instances/``). A retrieve that fails, is cancelled or dies leaves no ``complete.json``
and its folder is removed (or swept the next time the cache is opened).

Space: every instance reserves its size before it is written; when the cache would exceed its
limit the least recently used complete studies are evicted (never one being written, never a
protected one such as the study open in the app). A study that does not fit even then is refused
with ``CacheFull`` and its partial folder removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import CacheFull, RetrieveFailed

log = logging.getLogger(f"cnsight.{__name__}")

MARKER = "complete.json"
INSTANCES = "instances"
INCOMING = ".incoming"
#: An incomplete study folder untouched this long is a leftover of a crash (swept at open).
STALE_AFTER_S = 3600.0


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _safe_name(uid: str) -> str:
    """A UID as a folder/file name (UIDs are digits and dots; anything else is refused)."""
    if not uid or len(uid) > 64 or not set(uid) <= set("0123456789."):
        raise RetrieveFailed(f"not a valid DICOM UID: {uid!r}")
    return uid


@dataclass(frozen=True)
class CachedStudy:
    study_uid: str
    folder: Path  # the study's folder; its files are in ``instances``
    n_instances: int
    n_bytes: int
    source: str  # which node and method it came from
    retrieved_at: float

    @property
    def instances(self) -> Path:
        return self.folder / INSTANCES


class StudyCache:
    """Retrieved studies under ``root``, at most ``limit_bytes`` in all (thread-safe)."""

    def __init__(self, root: Path, limit_bytes: int):
        self.root = Path(root)
        self.limit_bytes = int(limit_bytes)
        self._lock = threading.Lock()
        self._writing: set[str] = set()
        self.protected: set[str] = set()  # study UIDs never evicted (e.g. open in the app)
        self._used = 0
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_stale()
        self._used = _folder_bytes(self.root)

    # ----- reading -------------------------------------------------------------------------
    def used_bytes(self) -> int:
        with self._lock:
            return self._used

    def describe(self) -> str:
        return f"{self.root}: {_mb(self.used_bytes())} of {_mb(self.limit_bytes)} used"

    def complete_studies(self) -> list[CachedStudy]:
        """Every complete study, least recently used first."""
        out = []
        for marker in self.root.glob(f"*/{MARKER}"):
            study = self._read_marker(marker)
            if study is not None:
                out.append(study)
        return sorted(out, key=lambda s: (self._last_used(s.folder), s.study_uid))

    def get(self, study_uid: str) -> CachedStudy | None:
        """The complete study ``study_uid``, or None (absent or incomplete)."""
        return self._read_marker(self.root / _safe_name(study_uid) / MARKER)

    def touch(self, study_uid: str) -> None:
        """Mark a study as just used (evicted last)."""
        marker = self.root / _safe_name(study_uid) / MARKER
        if marker.exists():
            os.utime(marker)

    def remove(self, study_uid: str) -> None:
        folder = self.root / _safe_name(study_uid)
        with self._lock:
            if study_uid in self._writing:
                raise RetrieveFailed(f"study {study_uid} is being retrieved; remove it later")
            self._remove_locked(folder)

    # ----- writing -------------------------------------------------------------------------
    def begin(self, study_uid: str, source: str) -> StudyWriter:
        """Start writing ``study_uid`` (an earlier copy, complete or not, is replaced)."""
        name = _safe_name(study_uid)
        with self._lock:
            if study_uid in self._writing:
                raise RetrieveFailed(f"study {study_uid} is already being retrieved")
            self._remove_locked(self.root / name)
            self._writing.add(study_uid)
        return StudyWriter(self, study_uid, self.root / name, source)

    def _reserve(self, study_uid: str, n_bytes: int, study_bytes: int) -> None:
        """Make room for ``n_bytes`` more of ``study_uid`` (which holds ``study_bytes`` so far)."""
        with self._lock:
            if study_bytes + n_bytes > self.limit_bytes:
                raise self._full(study_uid, study_bytes + n_bytes)
            while self._used + n_bytes > self.limit_bytes:
                victim = self._oldest_evictable()
                if victim is None:
                    raise self._full(study_uid, study_bytes + n_bytes)
                log.info(
                    "cache full: evicting study %s (%s)", victim.study_uid, _mb(victim.n_bytes)
                )
                self._remove_locked(victim.folder)
            self._used += n_bytes

    def _full(self, study_uid: str, needed: int) -> CacheFull:
        return CacheFull(
            f"Study {study_uid} does not fit in the local PACS cache: it needs more than "
            f"{_mb(needed)} and the cache ({self.root}) may hold {_mb(self.limit_bytes)}, "
            "with every other study it could evict already removed. Raise the cache limit "
            "(PACS > PACS nodes…, or 'cache.limit_mb' in the nodes file) or free disk space; "
            "nothing of this study was kept."
        )

    def _oldest_evictable(self) -> CachedStudy | None:
        for study in self.complete_studies():
            if study.study_uid not in self._writing and study.study_uid not in self.protected:
                return study
        return None

    def _finish(self, study_uid: str) -> None:
        with self._lock:
            self._writing.discard(study_uid)

    def _remove_locked(self, folder: Path) -> None:
        if folder.exists():
            freed = _folder_bytes(folder)
            shutil.rmtree(folder, ignore_errors=True)
            self._used = max(0, self._used - freed)

    def _account(self, n_bytes: int) -> None:
        """Count a small file of our own (the marker) without a limit check."""
        with self._lock:
            self._used += n_bytes

    def _release(self, n_bytes: int) -> None:
        with self._lock:
            self._used = max(0, self._used - n_bytes)

    # ----- helpers -------------------------------------------------------------------------
    def _sweep_stale(self) -> None:
        now = time.time()
        for folder in self.root.iterdir():
            stale = now - folder.stat().st_mtime > STALE_AFTER_S
            if folder.is_dir() and not (folder / MARKER).exists() and stale:
                log.info("removing an incomplete retrieve left behind: %s", folder)
                shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _last_used(folder: Path) -> float:
        try:
            return (folder / MARKER).stat().st_mtime
        except OSError:
            return 0.0

    @staticmethod
    def _read_marker(marker: Path) -> CachedStudy | None:
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            return CachedStudy(
                study_uid=str(data["study_uid"]),
                folder=marker.parent,
                n_instances=int(data["n_instances"]),
                n_bytes=int(data["n_bytes"]),
                source=str(data.get("source", "")),
                retrieved_at=float(data["retrieved_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class StudyWriter:
    """Writes one study's instances into the cache; ``complete()`` or ``abandon()`` at the end.

    Use as a context manager: leaving the block without ``complete()`` abandons the study.
    """

    def __init__(self, cache: StudyCache, study_uid: str, folder: Path, source: str):
        self.cache, self.study_uid, self.folder, self.source = cache, study_uid, folder, source
        self.incoming = folder / INCOMING
        self.instances = folder / INSTANCES
        self.incoming.mkdir(parents=True)
        self.instances.mkdir()
        self.n_instances = 0
        self.n_bytes = 0
        self._done = False
        self._lock = threading.Lock()

    def add(self, sop_instance_uid: str, data: bytes) -> Path:
        """Write one instance (a whole DICOM file's bytes): reserve space, .part, rename."""
        name = _safe_name(sop_instance_uid)
        with self._lock:
            if self._done:
                raise RetrieveFailed(f"study {self.study_uid}: the retrieve has already ended")
            self.cache._reserve(self.study_uid, len(data), self.n_bytes)
            part = self.incoming / f"{name}.dcm.part"
            final = self.instances / f"{name}.dcm"
            replaced = final.stat().st_size if final.exists() else 0
            try:
                part.write_bytes(data)
                os.replace(part, final)
            except OSError:
                part.unlink(missing_ok=True)
                self.cache._release(len(data))
                raise
            if replaced:  # the PACS sent the same instance twice
                self.cache._release(replaced)
                self.n_bytes -= replaced
            else:
                self.n_instances += 1
            self.n_bytes += len(data)
            return final

    def complete(self, expected: int | None = None) -> CachedStudy:
        """Mark the study complete (``expected``: how many instances the PACS announced)."""
        with self._lock:
            if self.n_instances == 0:
                self._abandon_locked()
                raise RetrieveFailed(f"study {self.study_uid}: no instance arrived")
            if expected is not None and self.n_instances < expected:
                got = self.n_instances
                self._abandon_locked()
                raise RetrieveFailed(
                    f"study {self.study_uid}: only {got} of {expected} instances arrived; "
                    "nothing was kept, retrieve it again"
                )
            now = time.time()
            marker = {
                "study_uid": self.study_uid,
                "n_instances": self.n_instances,
                "n_bytes": self.n_bytes,
                "source": self.source,
                "retrieved_at": now,
            }
            shutil.rmtree(self.incoming, ignore_errors=True)
            tmp = self.folder / f"{MARKER}.part"
            tmp.write_text(json.dumps(marker, indent=2), encoding="utf-8")
            os.replace(tmp, self.folder / MARKER)
            self.cache._account((self.folder / MARKER).stat().st_size)
            self._done = True
            self.cache._finish(self.study_uid)
        return CachedStudy(
            self.study_uid, self.folder, self.n_instances, self.n_bytes, self.source, now
        )

    def abandon(self) -> None:
        """Remove everything written so far (a failed, cancelled or refused retrieve)."""
        with self._lock:
            self._abandon_locked()

    def _abandon_locked(self) -> None:
        if self._done:
            return
        self._done = True
        with self.cache._lock:
            self.cache._remove_locked(self.folder)
        self.cache._finish(self.study_uid)

    def __enter__(self) -> StudyWriter:
        return self

    def __exit__(self, *exc) -> None:
        if not self._done:
            self.abandon()
