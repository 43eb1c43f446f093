"""One reader's event log: SQLite (WAL, synchronous=FULL), append-only, hash-chained.

- Durable: every append is its own committed transaction with synchronous=FULL, so once
  ``append`` returns, the event survives a crash, a kill or a power cut of this machine.
- Append-only: triggers refuse UPDATE and DELETE.
- Tamper-evident: event n's hash is sha256 over event n-1's hash and event n's fields; the chain
  starts from the protocol's sha256 (the first event records it). ``verify`` recomputes the
  chain. An edit that also recomputes every later hash can only be caught against a head hash
  recorded elsewhere: ``cnsight-study export``/``status`` print the head of every log for that.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.errors import ReaderStudyError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    reader TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the reading log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the reading log is append-only'); END;
"""
GENESIS = "log_created"


@dataclass(frozen=True)
class Event:
    seq: int
    ts: str
    reader: str
    kind: str
    payload: dict
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    head: str  # hash of the last event ("" for an empty log)
    problem: str = ""  # what is wrong and at which event, when not ok


def _canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, seq: int, ts: str, reader: str, kind: str, payload: str) -> str:
    return hashlib.sha256(
        "\n".join([prev_hash, str(seq), ts, reader, kind, payload]).encode()
    ).hexdigest()


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


class ReadLog:
    """The log of ``reader`` in a study whose protocol has sha256 ``anchor``."""

    def __init__(self, path: str | Path, anchor: str, reader: str):
        self.path, self.anchor, self.reader = Path(path), anchor, reader
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ReaderStudyError(f"{self.path}: not a readable reading log ({e})") from None
        first = self._db.execute("SELECT payload FROM events ORDER BY seq LIMIT 1").fetchone()
        if first is None:
            self.append(GENESIS, {"protocol_sha256": anchor, "reader": reader})
        else:
            started = json.loads(first[0])
            if started.get("protocol_sha256") != anchor or started.get("reader") != reader:
                raise ReaderStudyError(
                    f"{self.path}: this log was started for another protocol or reader - the "
                    "study's protocol.json has changed since reading began (ask the coordinator)"
                )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReadLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def append(self, kind: str, payload: dict, unique_fields: tuple[str, ...] = ()) -> Event:
        """Append and commit one event. With ``unique_fields``, refused (atomically, in the same
        transaction) when an event of this kind with the same values exists already - e.g. a
        case decided twice from two windows."""
        text = _canonical(payload)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if unique_fields:
                wanted = [payload.get(f) for f in unique_fields]
                for (other,) in db.execute("SELECT payload FROM events WHERE kind = ?", (kind,)):
                    if [json.loads(other).get(f) for f in unique_fields] == wanted:
                        raise ReaderStudyError(
                            f"already recorded: {kind} for {dict(zip(unique_fields, wanted, strict=True))}"
                        )
            row = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, self.anchor)
            ts = utc_now()
            digest = event_hash(prev, seq, ts, self.reader, kind, text)
            db.execute(
                "INSERT INTO events (seq, ts, reader, kind, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, self.reader, kind, text, prev, digest),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return Event(seq, ts, self.reader, kind, payload, prev, digest)

    def events(self, kind: str | None = None) -> list[Event]:
        query = "SELECT seq, ts, reader, kind, payload, prev_hash, hash FROM events"
        rows = self._db.execute(
            query + (" WHERE kind = ?" if kind else "") + " ORDER BY seq", (kind,) if kind else ()
        )
        return [Event(s, t, r, k, json.loads(p), ph, h) for s, t, r, k, p, ph, h in rows]

    def verify(self) -> VerifyResult:
        """Recompute the chain from the protocol's sha256; the first broken event is named."""
        prev, count = self.anchor, 0
        rows = self._db.execute(
            "SELECT seq, ts, reader, kind, payload, prev_hash, hash FROM events ORDER BY seq"
        )
        for expected_seq, (seq, ts, reader, kind, payload, prev_hash, digest) in enumerate(
            rows, start=1
        ):
            count += 1
            if seq != expected_seq:
                return VerifyResult(
                    False, count, prev, f"event {expected_seq} is missing (next is {seq})"
                )
            if prev_hash != prev or event_hash(prev, seq, ts, reader, kind, payload) != digest:
                return VerifyResult(
                    False, count, prev, f"event {seq} ({kind}, {ts}) was altered or reordered"
                )
            prev = digest
        return VerifyResult(True, count, prev if count else "")
