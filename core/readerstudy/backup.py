"""``cnsight-study backup``: a consistent copy of a study's reading logs.

Copying ``R1.sqlite`` with a file tool while a reader is reading (or after a crash) misses the
decisions still in ``R1.sqlite-wal``: the audit's copy showed 0 of 40 decisions and "log ok".
The SQLite online backup API (``sqlite3.Connection.backup``) copies the database as one
transaction sees it, WAL included, into a self-contained file; the source is only read.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from core.errors import ReaderStudyError
from core.readerstudy.log import open_read_only
from core.readerstudy.protocol import PROTOCOL_NAME


def backup_log(source: Path, target: Path) -> int:
    """Copy one log; returns its number of events (read back from the copy)."""
    try:
        src = open_read_only(source)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                (events,) = dst.execute("SELECT COUNT(*) FROM events").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.DatabaseError as e:
        raise ReaderStudyError(f"{source}: cannot be backed up ({e})") from None
    return int(events)


def backup_study(study_dir: str | Path, out_dir: str | Path) -> list[tuple[str, int]]:
    """Copy protocol.json, every reads/*.sqlite (backup API) and any unused reader tokens into
    ``out_dir`` (which must not exist). Returns (file name, events) per log."""
    study_dir, out_dir = Path(study_dir), Path(out_dir)
    if not (study_dir / PROTOCOL_NAME).is_file():
        raise ReaderStudyError(f"{study_dir}: not a reader study (no {PROTOCOL_NAME})")
    if out_dir.exists():
        raise ReaderStudyError(f"{out_dir} exists: a backup goes into a new folder")
    (out_dir / "reads").mkdir(parents=True)
    shutil.copy2(study_dir / PROTOCOL_NAME, out_dir / PROTOCOL_NAME)
    copied = []
    for path in sorted((study_dir / "reads").glob("*")):
        if path.suffix == ".sqlite":
            copied.append((path.name, backup_log(path, out_dir / "reads" / path.name)))
        elif path.suffix == ".token":
            shutil.copy2(path, out_dir / "reads" / path.name)
    return copied
