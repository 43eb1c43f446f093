"""Decisions of every reader -> long-format reads (``reader,treatment,case,truth,rating`` and
more), the input of ``cnsight-study analyze`` and of MRMCaov / RJafroc / iMRMC."""

from __future__ import annotations

import csv
from pathlib import Path

from core.errors import StudyError
from core.readerstudy.log import ReadLog
from core.readerstudy.protocol import load_protocol

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


def reads_rows(study_dir: str | Path) -> tuple[list[dict], dict[str, dict]]:
    """Rows for every decision of every reader whose log exists and verifies, and per reader the
    log's status (events, head hash, decisions). A log that fails verification is an error."""
    study_dir = Path(study_dir)
    protocol, sha = load_protocol(study_dir)
    rows, status = [], {}
    for reader in protocol.readers:
        path = study_dir / "reads" / f"{reader}.sqlite"
        if not path.is_file():
            status[reader] = {
                "events": 0,
                "head": "",
                "decisions": 0,
                "planned": _planned(protocol, reader),
            }
            continue
        with ReadLog(path, sha, reader) as log:
            check = log.verify()
            if not check.ok:
                raise StudyError(f"{path}: fails verification - {check.problem}")
            decisions = log.events("decision")
        for e in decisions:
            case = protocol.case(e.payload["case_id"])
            rows.append(
                {
                    "reader": reader,
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
        status[reader] = {
            "events": check.events, "head": check.head, "decisions": len(decisions),
            "planned": _planned(protocol, reader),
        }  # fmt: skip
    return rows, status


def _planned(protocol, reader: str) -> int:
    return sum(len(b.case_ids) for b in protocol.plan(reader))


def export_reads(study_dir: str | Path, out_csv: str | Path) -> dict[str, dict]:
    """Write the long-format reads CSV; returns the per-reader status (with head hashes)."""
    rows, status = reads_rows(study_dir)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return status
