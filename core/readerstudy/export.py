"""Decisions of every reader -> long-format reads (``reader,treatment,case,truth,rating`` and
more), the input of ``cnsight-study analyze`` and of MRMCaov (``core.mrmc.formats`` writes the
iMRMC and RJafroc files from them). Practice cases are never exported."""

from __future__ import annotations

import csv
from pathlib import Path

from core.errors import ReaderStudyError
from core.readerstudy.audit import ReaderLogStatus, verify_study
from core.readerstudy.protocol import Protocol

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
    "design",
    "read",
    "changed_after_ai",
    "ai_class",
    "ai_rating",
)


def reader_logs(
    study_dir: str | Path, coordinator_dir: str | Path | None = None
) -> tuple[Protocol, list[ReaderLogStatus]]:
    """The protocol (with truth) and every enrolled reader's log, verified read-only."""
    view, statuses = verify_study(study_dir, coordinator_dir)
    return view.protocol, statuses


def reads_rows(
    study_dir: str | Path, coordinator_dir: str | Path | None = None
) -> tuple[list[dict], list[ReaderLogStatus]]:
    """Rows for every decision of every reader; a log that fails verification is an error.
    Every decision was checked against the protocol (fields, case, treatment, class, rating,
    order) before it gets here."""
    protocol, statuses = reader_logs(study_dir, coordinator_dir)
    failed = [s for s in statuses if not s.ok]
    if failed:
        raise ReaderStudyError(
            f"the reading log of {failed[0].reader} fails verification - {failed[0].problem}"
        )
    rows = []
    for status in statuses:
        for e in status.decisions:
            if protocol.is_practice(e.payload["case_id"]):
                continue  # practice: the reader saw the truth; never analysed
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
                    "design": protocol.design,
                    "read": e.payload.get("read", "single"),
                    "changed_after_ai": _flag(e.payload.get("changed_after_ai")),
                    "ai_class": e.payload.get("ai_class", ""),
                    "ai_rating": ""
                    if e.payload.get("ai_rating") is None
                    else e.payload["ai_rating"],
                }
            )
    return rows, statuses


def _flag(value: bool | None) -> str:
    return "" if value is None else str(int(value))


def export_reads(
    study_dir: str | Path, out_csv: str | Path, coordinator_dir: str | Path | None = None
) -> list[ReaderLogStatus]:
    """Write the long-format reads CSV; returns every reader's log status (with head hashes)."""
    rows, statuses = reads_rows(study_dir, coordinator_dir)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return statuses
