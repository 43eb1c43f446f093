"""Reader-study logs whose loss or rewrite is detected (issue 15, deliverable 5), and the
protocol split (what the coordinator keeps, what a reader's workstation gets).

Each attack is what someone with file access to the study folder can do with sqlite3: drop the
triggers, delete, insert, recompute every hash. ``verify`` must name it, exit 1, and write
nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from core.cli.study import main as study_main
from core.errors import ReaderStudyError
from core.readerstudy import ReaderSession, create_protocol, export_reads
from core.readerstudy.audit import verify_study, witness_heads
from core.readerstudy.backup import backup_study
from core.readerstudy.log import event_hash, event_mac, next_key
from core.readerstudy.protocol import (
    KEY_NAME,
    TRUTH_NAME,
    default_coordinator_dir,
    load_coordinator,
    load_protocol,
    reader_log_key,
    save_protocol,
    token_path,
)
from core.records import ImageRef, Patient
from core.taxonomy import DEFAULT_CLASS_NAMES
from tests.support.studies import read_study

MODEL = {"path": "bundle", "seal_sha256": "cd" * 32, "weights_sha256": "ab" * 32}
LABELS = ["normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis", "normal"]


def _patients(root="/data/site-a"):
    return [
        Patient(
            f"PAT-{i}",
            tuple(
                ImageRef(Path(f"{root}/{lab}/PAT-{i}/{j}.dcm"), patient_id=f"PAT-{i}", label=lab)
                for j in range(2)
            ),
        )
        for i, lab in enumerate(LABELS)
    ]


@pytest.fixture()
def study(tmp_path) -> Path:
    protocol = create_protocol(
        _patients(), "data", ["R1", "R2"], DEFAULT_CLASS_NAMES, MODEL, washout_days=0.0
    )
    save_protocol(protocol, tmp_path / "study")
    return tmp_path / "study"


def _read(study, reader="R1", n=None):
    read_study(study, reader, stop_after=n, rating=lambda case: 70.0, seconds=2.0)


def _db(study, reader="R1"):
    db = sqlite3.connect(study / "reads" / f"{reader}.sqlite", isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    db.execute("DROP TRIGGER IF EXISTS events_no_delete")
    return db


def _rows(db):
    return db.execute(
        "SELECT seq, ts, reader, kind, payload, prev_hash, hash, mac FROM events ORDER BY seq"
    ).fetchall()


def _rechain(db, rows, anchor, first_key=None):
    """Rewrite the whole log from ``rows`` with every hash recomputed (and every MAC, when the
    forger holds the first key - only the coordinator does)."""
    db.execute("DELETE FROM events")
    prev, key = anchor, first_key
    for i, (_, ts, reader, kind, payload, *_rest) in enumerate(rows, start=1):
        digest = event_hash(prev, i, ts, reader, kind, payload)
        mac = event_mac(key, digest) if key else "0" * 64
        db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (i, ts, reader, kind, payload, prev, digest, mac),
        )
        prev = digest
        if key:
            key = next_key(key)
    if key:
        db.execute("UPDATE key_state SET next_seq = ?, key = ?", (len(rows) + 1, key.hex()))


def _problem(study, reader="R1"):
    _, statuses = verify_study(study)
    return next(s for s in statuses if s.reader == reader).problem


def _fingerprint(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ----- the protocol split ---------------------------------------------------------------------


def test_protocol_json_holds_no_truth_no_patient_id_no_path(study):
    text = (study / "protocol.json").read_text()
    for secret in ("PAT-", "/data", "site-a", "anencephaly/", '"truth"', '"patient_id"'):
        assert secret not in text, secret
    protocol, _ = load_protocol(study)
    assert not protocol.has_truth and all(
        k.startswith("sha256:") for k in protocol.cases[0].image_keys
    )
    coordinator = default_coordinator_dir(study)
    truth = json.loads((coordinator / TRUTH_NAME).read_text())
    assert {c["patient_id"] for c in truth["cases"]} == {f"PAT-{i}" for i in range(6)}
    assert truth["cases"][0]["images"][0].startswith("/data/site-a/")
    assert (coordinator / KEY_NAME).stat().st_mode & 0o077 == 0
    view = load_coordinator(study)
    assert view.protocol.has_truth and len(view.study_key) == 32


def test_the_reader_token_is_used_up_by_the_first_session(study):
    token = token_path(study, "R1")
    assert token.is_file()
    _read(study, n=1)
    assert not token.exists()  # the workstation keeps only the evolving key
    _read(study, n=1)  # later sessions need no token
    token_path(study, "R2").unlink()
    with pytest.raises(ReaderStudyError, match="R2's log token is needed"):
        ReaderSession(study, "R2")
    assert not (study / "reads" / "R2.sqlite").exists()


def test_a_truth_file_of_another_protocol_is_refused(study, tmp_path):
    path = study / "protocol.json"
    path.write_text(path.read_text().replace('"washout_days": 0.0', '"washout_days": 1.0'))
    with pytest.raises(ReaderStudyError, match="protocol.json changed since the study"):
        load_coordinator(study)
    assert study_main(["verify", str(study)]) == 1


# ----- verify is read-only --------------------------------------------------------------------


def test_verify_writes_nothing_recreates_no_trigger_and_appends_nothing(study):
    _read(study, n=3)
    db = _db(study)  # triggers gone: verify must not put them back
    db.close()
    reads = study / "reads"
    before = _fingerprint(reads)
    assert study_main(["verify", str(study)]) == 0
    assert study_main(["status", str(study)]) == 0
    assert _fingerprint(reads) == before  # no -wal/-shm created, no byte changed
    db = sqlite3.connect(reads / "R1.sqlite")
    assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type='trigger'").fetchone()[0] == 0
    db.close()


def test_an_emptied_log_fails_and_verify_does_not_refill_it(study):
    _read(study, n=4)
    db = _db(study)
    db.execute("DELETE FROM events")
    db.close()
    assert "no event at all" in _problem(study)
    assert study_main(["verify", str(study)]) == 1
    db = sqlite3.connect(study / "reads" / "R1.sqlite")
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0  # nothing appended
    db.close()


# ----- loss and rewrite -----------------------------------------------------------------------


def test_deleting_the_last_decisions_is_detected(study):
    _read(study, n=6)
    db = _db(study)
    db.execute("DELETE FROM events WHERE seq > (SELECT MAX(seq) - 4 FROM events)")
    db.close()
    assert "were deleted" in _problem(study)
    assert study_main(["verify", str(study)]) == 1


def test_deleting_a_log_file_is_detected(study):
    _read(study, n=2)
    for suffix in ("", "-wal", "-shm"):
        (study / "reads" / f"R1.sqlite{suffix}").unlink(missing_ok=True)
    assert "the log was deleted" in _problem(study)
    assert study_main(["verify", str(study)]) == 1


@pytest.mark.parametrize("where", ["insert", "rechain"])
def test_forged_events_with_recomputed_hashes_are_detected(study, where):
    _read(study, n=4)
    db = _db(study)
    rows = _rows(db)
    if where == "insert":  # a decision slipped in after the genesis, every hash recomputed
        decision = next(r for r in rows if r[3] == "decision")
        rows = [rows[0], decision, *rows[1:]]
    else:  # every rating changed, the whole chain recomputed
        rows = [r[:4] + (r[4].replace('"rating":70.0', '"rating":99.0'),) + r[5:] for r in rows]
    _rechain(db, rows, load_protocol(study)[1])
    db.close()
    assert "does not carry the study key's MAC" in _problem(study)
    assert study_main(["verify", str(study)]) == 1


def test_a_log_rolled_back_to_an_older_copy_is_caught_by_the_witnessed_heads(study, tmp_path):
    _read(study, n=2)
    old = tmp_path / "old"
    backup_study(study, old)  # the attacker keeps a consistent early copy
    _read(study, n=3)
    assert all(s.ok for s in witness_heads(study))  # the coordinator records the heads
    shutil.copy(old / "reads" / "R1.sqlite", study / "reads" / "R1.sqlite")
    for suffix in ("-wal", "-shm"):
        (study / "reads" / f"R1.sqlite{suffix}").unlink(missing_ok=True)
    assert "the coordinator witnessed" in _problem(study)
    assert study_main(["witness", str(study)]) == 1


# ----- every event against the protocol -------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('"rating":70.0', '"rating":500.0', "rating 500.0 is outside 0..100"),
        ('"class_call":"', '"class_call":"banana","x":"', "fields missing"),
        ('"treatment":"unaided"', '"treatment":"placebo"', "treatment 'placebo'"),
        ('"seconds":2.0', '"seconds":-1', "is not a duration"),
        ('"rating":70.0,', "", r"fields missing \['rating'\]"),
    ],
)
def test_events_that_break_the_protocol_are_refused_even_with_a_valid_hash_and_mac(
    study, tmp_path, old, new, match
):
    """Forged with the coordinator's own key (the strongest forger): the protocol rules still
    refuse them, and export gives one clear error instead of a KeyError or a bad row."""
    _read(study, n=2)
    db = _db(study)
    rows = _rows(db)
    i = next(i for i, r in enumerate(rows) if r[3] == "decision")
    rows[i] = rows[i][:4] + (rows[i][4].replace(old, new, 1),) + rows[i][5:]
    view = load_coordinator(study)
    _rechain(
        db, rows, view.protocol_sha256, reader_log_key(view.study_key, view.protocol.study_id, "R1")
    )
    db.close()
    with pytest.raises(ReaderStudyError, match=match):
        export_reads(study, tmp_path / "reads.csv")
    assert not (tmp_path / "reads.csv").exists()
    assert study_main(["verify", str(study)]) == 1


def test_a_class_outside_the_study_and_decisions_out_of_order_are_refused(study):
    _read(study, n=3)
    db = _db(study)
    rows = _rows(db)
    decisions = [i for i, r in enumerate(rows) if r[3] == "decision"]
    view = load_coordinator(study)
    key = reader_log_key(view.study_key, view.protocol.study_id, "R1")
    banana = list(rows)
    banana[decisions[0]] = (
        banana[decisions[0]][:4]
        + (
            rows[decisions[0]][4].replace(
                json.loads(rows[decisions[0]][4])["class_call"], "banana"
            ),
        )
        + rows[decisions[0]][5:]
    )
    _rechain(db, banana, view.protocol_sha256, key)
    assert "class 'banana' is not one of" in _problem(study)
    swapped = list(rows)
    swapped[decisions[0]], swapped[decisions[1]] = rows[decisions[1]], rows[decisions[0]]
    _rechain(db, swapped, view.protocol_sha256, key)
    db.close()
    assert "the reading order says" in _problem(study)


# ----- backup ---------------------------------------------------------------------------------


def test_backup_copies_what_a_plain_file_copy_misses(study, tmp_path):
    session = ReaderSession(study, "R1")  # open: the decisions are in R1.sqlite-wal
    truth = {c.case_id: c.truth for c in load_coordinator(study).protocol.cases}
    for _ in range(5):
        state = session.current()
        session.submit(state, truth[state.case.case_id], 60.0, 1.0)
    plain = tmp_path / "plain.sqlite"
    shutil.copy(study / "reads" / "R1.sqlite", plain)
    db = sqlite3.connect(f"{plain.as_uri()}?mode=ro&immutable=1", uri=True)
    tables = db.execute("SELECT name FROM sqlite_master").fetchall()
    seen = db.execute("SELECT COUNT(*) FROM events").fetchone()[0] if ("events",) in tables else 0
    db.close()
    assert seen < 7  # the plain copy lacks what is still in the -wal file (here: everything)
    copied = backup_study(study, tmp_path / "backup")
    session.close()
    assert dict(copied)["R1.sqlite"] == 7  # genesis, session_started, 5 decisions
    shutil.copytree(default_coordinator_dir(study), tmp_path / "backup.coordinator")
    _, statuses = verify_study(tmp_path / "backup")
    r1 = next(s for s in statuses if s.reader == "R1")
    assert r1.ok and r1.authenticated and len(r1.decisions) == 5
    assert study_main(["backup", str(study), "--out", str(tmp_path / "backup")]) == 2  # exists


def test_a_schema_1_study_still_opens_and_verifies_by_its_hash_chain(tmp_path):
    protocol = create_protocol(
        _patients(), "data", ["R1"], DEFAULT_CLASS_NAMES, MODEL, washout_days=0
    )
    legacy = protocol.__class__(**{**protocol.__dict__, "schema": 1})
    save_protocol(legacy, tmp_path / "old")
    assert not default_coordinator_dir(tmp_path / "old").exists()
    with ReaderSession(tmp_path / "old", "R1") as session:
        state = session.current()
        session.submit(state, state.case.truth, 40.0, 1.0)  # schema 1 carries the truth
    _, statuses = verify_study(tmp_path / "old")
    assert statuses[0].ok and not statuses[0].authenticated and len(statuses[0].decisions) == 1


def test_verify_says_when_it_cannot_run_exit_2(study, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.move(default_coordinator_dir(study), moved)
    assert study_main(["verify", str(study)]) == 2  # no coordinator folder: cannot verify
    assert study_main(["verify", str(study), "--coordinator", str(moved)]) == 0
    assert study_main(["verify", str(tmp_path / "nope")]) == 2
