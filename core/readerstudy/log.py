"""One reader's event log: SQLite (WAL, synchronous=FULL), append-only, hash-chained and, in
schema-2 studies, authenticated by a forward-secure MAC chain keyed from the study key.

- Durable: every append is its own committed transaction with synchronous=FULL, so once
  ``append`` returns, the event survives a crash, a kill or a power cut of this machine.
- Append-only: triggers refuse UPDATE and DELETE.
- Tamper-evident: event n's hash is sha256 over event n-1's hash and event n's fields; the chain
  starts from the protocol's sha256 (the first event records it). ``verify`` recomputes the
  chain. The hash alone catches accidents, not a forger: anyone can recompute it.
- Authenticated (schema 2): event n also carries ``mac`` = HMAC-SHA256(K_n, hash_n). K_1 is the
  reader's token, derived from the study key only the coordinator holds
  (``protocol.reader_log_key``); the first session consumes the token and, after each event,
  the log keeps only the next key K_{n+1} = SHA256("cnsight-log-key-evolve-v1" | K_n) in
  ``key_state``. The workstation never holds an earlier key, so nobody there can re-write,
  insert or delete an earlier event, or cut the log short, without the coordinator's
  ``verify`` seeing it (the stored key no longer fits the last event). See
  docs/reader-study.md#what-verify-detects for what stays undetectable.
- ``open_read_only`` is what ``verify``/``export`` use: it never writes, creates or appends.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
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
    hash TEXT NOT NULL UNIQUE,
    mac TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS key_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq INTEGER NOT NULL,
    key TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the reading log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the reading log is append-only'); END;
"""
GENESIS = "log_created"
EVOLVE = b"cnsight-log-key-evolve-v1"


def next_key(key: bytes) -> bytes:
    """K_{n+1} from K_n (one-way: K_n cannot be found from K_{n+1})."""
    return hashlib.sha256(EVOLVE + key).digest()


def event_mac(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StoredLog:
    """Everything in a log file, as read (read-only) for verification."""

    rows: list[tuple]  # (seq, ts, reader, kind, payload text, prev_hash, hash, mac)
    keyed: bool  # the events table has the mac column
    key_state: tuple[int, str] | None  # (next_seq, key hex), None when absent


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. Without a ``-wal`` file beside it the database is
    opened immutable (nothing is created next to it); with one, read-only with the WAL, so
    decisions not yet checkpointed into the main file are seen."""
    path = Path(path).absolute()
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    return sqlite3.connect(f"{path.as_uri()}?{mode}", uri=True, isolation_level=None)


def read_stored(path: Path) -> StoredLog:
    """Read every event and the key state without writing anything; ReaderStudyError when the
    file is not a reading log."""
    try:
        db = open_read_only(path)
        try:
            columns = {r[1] for r in db.execute("PRAGMA table_info(events)")}
            if not columns:
                raise ReaderStudyError(f"{path}: not a reading log (no events table)")
            keyed = "mac" in columns
            rows = db.execute(
                "SELECT seq, ts, reader, kind, payload, prev_hash, hash, "
                + ("mac" if keyed else "''")
                + " FROM events ORDER BY seq"
            ).fetchall()
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            state = None
            if "key_state" in tables:
                row = db.execute("SELECT next_seq, key FROM key_state WHERE id = 1").fetchone()
                state = (int(row[0]), str(row[1])) if row else None
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise ReaderStudyError(f"{path}: not a readable reading log ({e})") from None
    return StoredLog(rows, keyed, state)


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
    """The log of ``reader`` in a study whose protocol has sha256 ``anchor``. ``first_key``
    (K_1, a new schema-2 log only): the log is keyed from its first event on."""

    def __init__(self, path: str | Path, anchor: str, reader: str, first_key: bytes | None = None):
        self.path, self.anchor, self.reader = Path(path), anchor, reader
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(events)")}
        except sqlite3.DatabaseError as e:
            raise ReaderStudyError(f"{self.path}: not a readable reading log ({e})") from None
        self.keyed = "mac" in columns  # False: a log written before MACs (schema-1 study)
        first = self._db.execute("SELECT payload FROM events ORDER BY seq LIMIT 1").fetchone()
        if first is None:
            if first_key is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO key_state (id, next_seq, key) VALUES (1, 1, ?)",
                    (first_key.hex(),),
                )
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
            mac = ""
            state = db.execute("SELECT next_seq, key FROM key_state WHERE id = 1").fetchone()
            if state is not None:
                if state[0] != seq:
                    raise ReaderStudyError(
                        f"{self.path}: the log's key belongs to event {state[0]}, not {seq}: "
                        "the log was cut short or restored from a copy (ask the coordinator)"
                    )
                key = bytes.fromhex(state[1])
                mac = event_mac(key, digest)
                db.execute(
                    "UPDATE key_state SET next_seq = ?, key = ? WHERE id = 1",
                    (seq + 1, next_key(key).hex()),
                )
            if self.keyed:
                db.execute(
                    "INSERT INTO events (seq, ts, reader, kind, payload, prev_hash, hash, mac) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, ts, self.reader, kind, text, prev, digest, mac),
                )
            else:
                db.execute(
                    "INSERT INTO events (seq, ts, reader, kind, payload, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
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

    def rows(self) -> list[tuple]:
        """Every event as stored: (seq, ts, reader, kind, payload text, prev_hash, hash)."""
        return self._db.execute(
            "SELECT seq, ts, reader, kind, payload, prev_hash, hash FROM events ORDER BY seq"
        ).fetchall()

    def verify(self) -> VerifyResult:
        """Recompute the chain from the protocol's sha256; the first broken event is named."""
        return check_chain(self.rows(), self.anchor)


def check_chain(rows, anchor: str) -> VerifyResult:
    """The hash chain of ``rows`` (seq, ts, reader, kind, payload, prev_hash, hash, ...)."""
    prev, count = anchor, 0
    for expected_seq, row in enumerate(rows, start=1):
        seq, ts, reader, kind, payload, prev_hash, digest = row[:7]
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


def check_macs(stored: StoredLog, first_key: bytes) -> str:
    """The MAC of every event and the stored next key, recomputed from K_1; "" when all fit."""
    if not stored.keyed:
        return "the log has no MACs although the study is keyed (it was replaced by another file)"
    key = first_key
    for row in stored.rows:
        seq, kind, ts, digest, mac = row[0], row[3], row[1], row[6], row[7]
        if not hmac.compare_digest(str(mac), event_mac(key, digest)):
            return (
                f"event {seq} ({kind}, {ts}) does not carry the study key's MAC: it was forged, "
                "inserted or re-chained"
            )
        key = next_key(key)
    n = len(stored.rows)
    if stored.key_state is None:
        return "the log's key state is gone (deleted): the log cannot be shown complete"
    next_seq, stored_key = stored.key_state
    if next_seq != n + 1 or not hmac.compare_digest(stored_key, key.hex()):
        return (
            f"the log ends at event {n} but its key belongs to event {next_seq}: events after "
            f"{n} were deleted (or the log was restored from an older copy)"
        )
    return ""
