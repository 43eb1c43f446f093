"""The coordinator's check of every reading log, read-only (``cnsight-study verify``).

Per reader, in this order, the first failure named: the log file is there when the reader's
token was used or a head was witnessed; the hash chain from the protocol's sha256; the MAC chain
from the study key and the stored next key (schema 2: forged, inserted, re-chained and deleted
events, an emptied log); every event against the protocol (kind, reader, case, treatment, block,
class, rating range, reading order, washout); every head the coordinator witnessed earlier is
still in the log (a log restored from an older copy). Nothing is written, created or appended.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ReaderStudyError
from core.readerstudy.log import GENESIS, Event, StoredLog, check_chain, check_macs, read_stored
from core.readerstudy.protocol import (
    AIDED,
    CROSSOVER,
    FINAL,
    Block,
    CoordinatorView,
    Protocol,
    load_coordinator,
    reader_log_key,
    token_path,
)

DECISION = "decision"
SHOWN = "case_shown"
STARTED = "session_started"
KINDS = (GENESIS, STARTED, SHOWN, DECISION)
HEADS_NAME = "heads.jsonl"  # in the coordinator's folder: the witnessed log heads
_DECISION_FIELDS = {
    "case_id": str,
    "treatment": str,
    "block": int,
    "class_call": str,
    "rating": float,
    "seconds": float,
}
#: Schema 3 adds which read of the case this is, the AI output an aided read showed (what the
#: automation-bias analysis compares with), and whether a final read changed the first one.
_READ_FIELD = {"read": str}
_AI_FIELDS = {"ai_class": str, "ai_rating": float}
_CHANGED_FIELD = {"changed_after_ai": bool}


def decision_fields(protocol: Protocol, treatment: str, read: str) -> dict[str, type]:
    """The fields a decision of this treatment and read carries, by protocol schema."""
    fields = dict(_DECISION_FIELDS)
    if protocol.schema >= 3:
        fields |= _READ_FIELD
        if treatment == AIDED:
            fields |= _AI_FIELDS
        if read == FINAL:
            fields |= _CHANGED_FIELD
    return fields


def washout_opens(
    protocol: Protocol, plan: tuple[Block, ...], block: int, block_ends: dict
) -> _dt.datetime | None:
    """When block ``block`` of a plan may begin: the previous block's last decision plus the
    washout, between two study blocks of a crossover; None when no washout applies (the first
    block, after a practice block, a sequential study) or the previous block is not done."""
    if (
        protocol.design != CROSSOVER
        or block == 0
        or plan[block].practice
        or plan[block - 1].practice
    ):
        return None
    end = block_ends.get(block - 1)
    return None if end is None else end + _dt.timedelta(days=protocol.washout_days)


@dataclass(frozen=True)
class ReaderLogStatus:
    """One reader's log as the coordinator sees it (read once, verified once)."""

    reader: str
    started: bool
    ok: bool
    events: int
    head: str  # hash of the last event
    problem: str
    planned: int
    decisions: tuple[Event, ...] = field(default=(), repr=False)
    authenticated: bool = False  # the study key's MAC chain was checked and holds


def log_path(study_dir: Path, reader: str) -> Path:
    return Path(study_dir) / "reads" / f"{reader}.sqlite"


def _parse_ts(ts: str) -> _dt.datetime | None:
    try:
        t = _dt.datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo is not None else None


def _payload(row) -> dict | None:
    try:
        value = json.loads(row[4])
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _decision_problem(protocol: Protocol, p: dict, expected: dict[str, type]) -> str:
    """What is wrong with one decision's payload alone ("" when nothing)."""
    if set(p) != set(expected):
        missing, extra = set(expected) - set(p), set(p) - set(expected)
        return f"fields missing {sorted(missing)} / unexpected {sorted(extra)}"
    for name, kind in expected.items():
        value = p[name]
        if name == "ai_rating" and value is None and p.get("ai_class") == "":
            continue  # the model found the case not assessable: no AI verdict was shown
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind) and not isinstance(value, bool)
        if not ok:
            return f"{name} {value!r} is not a {kind.__name__}"
    if p["treatment"] not in protocol.treatments:
        return f"treatment {p['treatment']!r} is not one of {', '.join(protocol.treatments)}"
    if p["class_call"] not in protocol.class_names:
        return f"class {p['class_call']!r} is not one of the study's classes"
    if not (math.isfinite(p["rating"]) and 0.0 <= p["rating"] <= 100.0):
        return f"rating {p['rating']!r} is outside 0..100"
    if not (math.isfinite(p["seconds"]) and p["seconds"] >= 0):
        return f"reading time {p['seconds']!r} s is not a duration"
    if "ai_class" in p and p["ai_class"] not in (*protocol.class_names, ""):
        return f"AI class {p['ai_class']!r} is not one of the study's classes"
    if p.get("ai_rating") is not None and not (
        math.isfinite(p["ai_rating"]) and 0.0 <= p["ai_rating"] <= 100.0
    ):
        return f"AI rating {p['ai_rating']!r} is outside 0..100"
    return ""


def check_events(protocol: Protocol, reader: str, anchor: str, rows) -> tuple[str, list[Event]]:
    """Every event against the protocol; returns (first problem or "", the decisions)."""
    plan = protocol.plan(reader)
    expected = protocol.reads(reader)
    case_ids = {r.case_id for r in expected}
    decisions: list[Event] = []
    block_ends: dict[int, _dt.datetime] = {}
    first_reads: dict[str, dict] = {}  # case -> its first (unaided) read, sequential design
    for n, row in enumerate(rows):
        seq, ts, who, kind = row[0], row[1], row[2], row[3]
        where = f"event {seq} ({kind}, {ts})"
        p = _payload(row)
        if p is None:
            return f"{where}: the payload is not a JSON object", decisions
        if who != reader:
            return f"{where}: recorded for reader {who!r}, not {reader!r}", decisions
        when = _parse_ts(ts)
        if when is None:
            return f"{where}: the time is not an ISO time with a time zone", decisions
        if kind not in KINDS:
            return f"{where}: unknown kind of event", decisions
        if (kind == GENESIS) != (n == 0):
            return f"{where}: the log must start with exactly one {GENESIS} event", decisions
        if kind == GENESIS and p != {"protocol_sha256": anchor, "reader": reader}:
            return f"{where}: the log was started for another protocol or reader", decisions
        if kind == SHOWN and (
            p.get("case_id") not in case_ids or p.get("treatment") not in protocol.treatments
        ):
            return f"{where}: names a case or treatment not in the reader's plan", decisions  # fmt: skip
        if kind != DECISION:
            continue
        k = len(decisions)
        if k >= len(expected):
            return f"{where}: more decisions than the reader's plan holds", decisions
        planned = expected[k]
        block, treatment, case_id = planned.block, planned.treatment, planned.case_id
        problem = _decision_problem(protocol, p, decision_fields(protocol, treatment, planned.read))
        if problem:
            return f"{where}: {problem}", decisions
        got = (p["block"], p["treatment"], p["case_id"])
        if got != (block, treatment, case_id) or p.get("read", planned.read) != planned.read:
            return (
                f"{where}: decision {k + 1} is {got[2]} ({got[1]}, block {got[0] + 1}); the "
                f"reading order says {case_id} ({treatment}, block {block + 1})"
            ), decisions
        if planned.read == FINAL:
            first = first_reads[case_id]
            changed = (first["class_call"], first["rating"]) != (p["class_call"], p["rating"])
            if p["changed_after_ai"] != changed:
                return f"{where}: changed_after_ai {p['changed_after_ai']} contradicts the first read", decisions  # fmt: skip
        else:
            first_reads[case_id] = p
        opens = washout_opens(protocol, plan, block, block_ends)
        if block not in block_ends and opens is not None and when < opens:
            return (
                f"{where}: the {treatment} block began before the washout ended ({opens:%Y-%m-%d %H:%M} UTC)"
            ), decisions  # fmt: skip
        block_ends[block] = when
        decisions.append(Event(seq, ts, who, kind, p, row[5], row[6]))
    return "", decisions


def witnessed_heads(folder: Path | None) -> dict[str, list[tuple[int, str]]]:
    """reader -> [(events, head hash)] the coordinator recorded (``cnsight-study witness``)."""
    heads: dict[str, list[tuple[int, str]]] = {}
    if folder is None or not (folder / HEADS_NAME).is_file():
        return heads
    path = folder / HEADS_NAME
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            heads.setdefault(str(d["reader"]), []).append((int(d["events"]), str(d["head"])))
        except (ValueError, KeyError, TypeError):
            raise ReaderStudyError(f"{path}: line {i} is not a witnessed head") from None
    return heads


def _verify_reader(
    view: CoordinatorView, study_dir: Path, reader: str, heads: list[tuple[int, str]]
) -> ReaderLogStatus:
    protocol = view.protocol
    planned = len(protocol.reads(reader))
    path = log_path(study_dir, reader)

    def failed(problem: str, events=0, head="") -> ReaderLogStatus:
        return ReaderLogStatus(reader, True, False, events, head, problem, planned)

    if not path.is_file():
        if heads:
            return failed(
                f"the log {path.name} is gone: the coordinator witnessed {heads[-1][0]} events in it"
            )
        if view.study_key is not None and not token_path(study_dir, reader).is_file():
            return failed(
                f"the log {path.name} is gone but the reader's token was used: the log was deleted"
            )
        return ReaderLogStatus(reader, False, True, 0, "", "", planned)
    try:
        stored: StoredLog = read_stored(path)
    except ReaderStudyError as e:
        return failed(str(e))
    rows = stored.rows
    if not rows:
        return failed("the log holds no event at all: it was emptied")
    chain = check_chain(rows, view.protocol_sha256)
    if not chain.ok:
        return failed(chain.problem, chain.events, chain.head)
    authenticated = False
    if view.study_key is not None:
        first_key = reader_log_key(view.study_key, protocol.study_id, reader)
        problem = check_macs(stored, first_key)
        if problem:
            return failed(problem, chain.events, chain.head)
        authenticated = True
    problem, decisions = check_events(protocol, reader, view.protocol_sha256, rows)
    if problem:
        return failed(problem, chain.events, chain.head)
    by_seq = {row[0]: row[6] for row in rows}
    for events, head in heads:
        if by_seq.get(events) != head:
            return failed(
                f"the coordinator witnessed {events} events ending in {head[:12]}...; the log "
                f"now has {len(rows)} and not that head: it was cut short or replaced by an "
                "older copy",
                chain.events,
                chain.head,
            )
    return ReaderLogStatus(
        reader, True, True, chain.events, chain.head, "", planned, tuple(decisions), authenticated
    )


def verify_study(
    study_dir: str | Path, coordinator_dir: str | Path | None = None
) -> tuple[CoordinatorView, list[ReaderLogStatus]]:
    """Every enrolled reader's log, verified read-only; a log that fails keeps no decisions."""
    study_dir = Path(study_dir)
    view = load_coordinator(study_dir, coordinator_dir)
    heads = witnessed_heads(view.folder)
    statuses = [_verify_reader(view, study_dir, r, heads.get(r, [])) for r in view.protocol.readers]
    return view, statuses


def witness_heads(
    study_dir: str | Path, coordinator_dir: str | Path | None = None
) -> list[ReaderLogStatus]:
    """Verify, then append every verified log's head to the coordinator's ledger (only when
    every log verifies: a head is never witnessed for a log that fails)."""
    view, statuses = verify_study(study_dir, coordinator_dir)
    if view.folder is None:
        raise ReaderStudyError(
            "a schema-1 study has no coordinator folder to keep witnessed heads in"
        )
    if any(not s.ok for s in statuses):
        return statuses
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    with open(view.folder / HEADS_NAME, "a", encoding="utf-8") as f:
        for s in statuses:
            if s.started:
                f.write(
                    json.dumps({"reader": s.reader, "events": s.events, "head": s.head, "at": now})
                    + "\n"
                )
        f.flush()
    return statuses
