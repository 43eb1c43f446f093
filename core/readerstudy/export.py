"""Decisions of every reader -> long-format reads (``reader,treatment,case,truth,rating`` and
more), the input of ``cnsight-study analyze`` and of MRMCaov / RJafroc / iMRMC."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ReaderStudyError
from core.readerstudy.log import Event, ReadLog
from core.readerstudy.protocol import Protocol, load_protocol

COLUMNS = (
    "reader",
    "treatment",
    "case",
    "truth",
    "rating",
    "class_call",
    "truth_class",
    "seconds",
    "decided_at",
)


@dataclass(frozen=True)
class ReaderLogStatus:
    """One reader's log as the coordinator sees it (read once, verified once)."""

    reader: str
    started: bool
    ok: bool
    events: int
    head: str  # hash of the last event: record it to make a later rewrite evident
    problem: str
    planned: int
    decisions: tuple[Event, ...] = field(default=(), repr=False)


def reader_logs(study_dir: str | Path) -> tuple[Protocol, list[ReaderLogStatus]]:
    """Every enrolled reader's log, verified; a log that fails keeps no decisions."""
    study_dir = Path(study_dir)
    protocol, sha = load_protocol(study_dir)
    statuses = []
    for reader in protocol.readers:
        planned = sum(len(b.case_ids) for b in protocol.plan(reader))
        path = study_dir / "reads" / f"{reader}.sqlite"
        if not path.is_file():
            statuses.append(ReaderLogStatus(reader, False, True, 0, "", "", planned))
            continue
        with ReadLog(path, sha, reader) as log:
            check = log.verify()
            decisions = tuple(log.events("decision")) if check.ok else ()
        statuses.append(
            ReaderLogStatus(
                reader, True, check.ok, check.events, check.head, check.problem, planned, decisions
            )
        )
    return protocol, statuses


def reads_rows(study_dir: str | Path) -> tuple[list[dict], list[ReaderLogStatus]]:
    """Rows for every decision of every reader; a log that fails verification is an error."""
    protocol, statuses = reader_logs(study_dir)
    failed = [s for s in statuses if not s.ok]
    if failed:
        raise ReaderStudyError(
            f"the reading log of {failed[0].reader} fails verification - {failed[0].problem}"
        )
    rows = []
    for status in statuses:
        for e in status.decisions:
            case = protocol.case(e.payload["case_id"])
            rows.append(
                {
                    "reader": status.reader,
                    "treatment": e.payload["treatment"],
                    "case": case.case_id,
                    "truth": int(case.truth != protocol.normal_class),
                    "rating": e.payload["rating"],
                    "class_call": e.payload["class_call"],
                    "truth_class": case.truth,
                    "seconds": e.payload["seconds"],
                    "decided_at": e.ts,
                }
            )
    return rows, statuses


def export_reads(study_dir: str | Path, out_csv: str | Path) -> list[ReaderLogStatus]:
    """Write the long-format reads CSV; returns every reader's log status (with head hashes)."""
    rows, statuses = reads_rows(study_dir)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return statuses
