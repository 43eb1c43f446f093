"""Reader-study protocol, sessions and the hash-chained log (core, no Qt)."""

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ReaderStudyError
from core.mrmc import analyze, load_reads
from core.readerstudy import (
    ReaderSession,
    StudyComplete,
    WashoutPending,
    create_protocol,
    export_reads,
    load_protocol,
)
from core.readerstudy.protocol import save_protocol
from core.records import ImageRef, Patient
from core.taxonomy import DEFAULT_CLASS_NAMES
from tests.support.studies import read_study

REPO = Path(__file__).resolve().parents[2]
MODEL = {"path": "bundle", "weights_sha256": "ab" * 32}
LABELS = ["normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis", "normal"]


def _patients(labels=LABELS):
    return [
        Patient(
            f"P{i}",
            tuple(
                ImageRef(Path(f"/d/P{i}/{j}.png"), patient_id=f"P{i}", label=lab) for j in range(2)
            ),
        )
        for i, lab in enumerate(labels)
    ]


def _study(tmp_path, readers=("R1", "R2"), washout=0.0, **kw) -> Path:
    protocol = create_protocol(
        _patients(), "data", readers, DEFAULT_CLASS_NAMES, MODEL, washout_days=washout, **kw
    )
    save_protocol(protocol, tmp_path / "study")
    return tmp_path / "study"


def _read_all(study, reader, rating=lambda case: 50.0, stop_after=None):
    read_study(study, reader, stop_after=stop_after, rating=rating)


def test_protocol_is_counterbalanced_randomised_and_anonymous(tmp_path):
    protocol, sha = load_protocol(_study(tmp_path, readers=("R1", "R2", "R3")))
    assert len(sha) == 64 and [c.case_id for c in protocol.cases] == [
        f"C00{i}" for i in range(1, 7)
    ]
    assert [b.treatment for b in protocol.plan("R1")] == ["unaided", "aided"]
    assert [b.treatment for b in protocol.plan("R2")] == ["aided", "unaided"]  # counterbalanced
    all_ids = sorted(c.case_id for c in protocol.cases)
    orders = [b.case_ids for r in protocol.readers for b in protocol.plan(r)]
    assert all(sorted(o) == all_ids for o in orders)  # every block reads every case once
    assert len(set(orders)) > 1  # and not all in the same order
    again = create_protocol(_patients(), "data", ["R1", "R2", "R3"], DEFAULT_CLASS_NAMES, MODEL)
    assert again.plans == protocol.plans  # the seed fixes the orders
    assert "P0" not in json.dumps([b.case_ids for b in protocol.plan("R1")])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"readers": ["R 1"]}, "reader ids must be"),
        ({"readers": ["R1", "R1"]}, "each listed once"),
        ({"washout_days": -1}, "washout must be"),
        ({"model": None}, "need a model"),
        ({"patients": _patients(["normal", None])}, "without a truth label"),
        ({"patients": _patients(["normal"])}, "at least 2 cases"),
        ({"class_names": ("healthy", "sick")}, "must contain 'normal'"),
    ],
)
def test_bad_protocols_are_refused(kwargs, message):
    args = {
        "patients": _patients(),
        "data": "d",
        "readers": ["R1"],
        "class_names": DEFAULT_CLASS_NAMES,
        "model": MODEL,
    }
    with pytest.raises(ReaderStudyError, match=message):
        create_protocol(**(args | kwargs))


def test_protocol_is_never_overwritten_and_bad_files_are_named(tmp_path):
    study = _study(tmp_path)
    protocol, _ = load_protocol(study)
    with pytest.raises(ReaderStudyError, match="never overwritten"):
        save_protocol(protocol, study)
    with pytest.raises(ReaderStudyError, match="not a reader study"):
        load_protocol(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "protocol.json").write_text("{not json")
    with pytest.raises(ReaderStudyError, match="not valid JSON"):
        load_protocol(tmp_path / "bad")


def test_session_walks_the_plan_validates_and_completes(tmp_path):
    study = _study(tmp_path)
    with ReaderSession(study, "R1") as session:
        plan = session.plan
        state = session.current()
        assert (state.treatment, state.case.case_id, state.position, state.block_size) == (
            "unaided", plan[0].case_ids[0], 1, 6,
        )  # fmt: skip
        assert not state.ai_allowed
        with pytest.raises(ReaderStudyError, match="unknown class"):
            session.submit(state, "tumour", 50, 1)
        with pytest.raises(ReaderStudyError, match="0 to 100"):
            session.submit(state, "normal", 101, 1)
        session.submit(state, "normal", 10, 1)
        with pytest.raises(ReaderStudyError, match="is not the case to decide now"):
            session.submit(state, "normal", 10, 1)  # stale: that case is done
        for _ in range(11):
            s = session.current()
            if s.ai_allowed and s.position == 1:
                with pytest.raises(ReaderStudyError, match="records the AI output"):
                    session.submit(s, "normal", 10, 1)  # an aided read names what it showed
            session.submit(s, "normal", 10, 1, ai=("normal", 20.0) if s.ai_allowed else None)
        assert s.ai_allowed and s.block_index == 1
        assert session.current() == StudyComplete("R1")
        assert session.progress() == (12, 12)
    with pytest.raises(ReaderStudyError, match="not enrolled"):
        ReaderSession(study, "R9")


def test_resume_after_reopening_and_one_decision_per_case_across_windows(tmp_path):
    study = _study(tmp_path)
    _read_all(study, "R1", stop_after=2)
    first = ReaderSession(study, "R1")
    second = ReaderSession(study, "R1")  # the same reader in a second window
    state = first.current()
    assert state.position == 3 and state == second.current()
    first.submit(state, "normal", 20, 1)
    with pytest.raises(ReaderStudyError):
        second.submit(state, "normal", 90, 1)  # stale in the second window: refused
    first.close()
    second.close()
    with ReaderSession(study, "R1") as again:
        assert again.progress()[0] == 3 and again.current().position == 4


def test_washout_holds_the_second_block(tmp_path):
    study = _study(tmp_path, washout=28)
    now = [dt.datetime.now(dt.UTC)]
    with ReaderSession(study, "R1", clock=lambda: now[0]) as session:
        for _ in range(6):
            last = session.current()
            session.submit(last, "normal", 10, 1)
        pending = session.current()
        assert isinstance(pending, WashoutPending)
        assert "aided reads start after the washout" in pending.message
        with pytest.raises(ReaderStudyError, match="cannot be decided now"):
            session.submit(last, "normal", 10, 1)
        now[0] = pending.available_at + dt.timedelta(seconds=1)
        assert session.current().treatment == "aided"


def test_log_is_append_only_and_edits_are_detected(tmp_path):
    study = _study(tmp_path)
    _read_all(study, "R1", stop_after=3)
    db_path = study / "reads" / "R1.sqlite"
    db = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE events SET payload = '{}' WHERE kind = 'decision'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM events")
    # Someone removes the triggers and changes a rating: verification names the event.
    db.execute("DROP TRIGGER events_no_update")
    seq = db.execute(
        "SELECT seq FROM events WHERE kind = 'decision' ORDER BY seq LIMIT 1"
    ).fetchone()[0]
    db.execute(
        "UPDATE events SET payload = replace(payload, '\"rating\":', '\"rating\":9') WHERE seq = ?",
        (seq,),
    )
    db.commit()
    db.close()
    with pytest.raises(ReaderStudyError, match=f"event {seq} .*altered"):
        ReaderSession(study, "R1")
    with pytest.raises(ReaderStudyError, match="fails verification"):
        export_reads(study, tmp_path / "reads.csv")


def test_a_changed_protocol_is_detected_by_the_logs(tmp_path):
    study = _study(tmp_path)
    _read_all(study, "R1", stop_after=1)
    path = study / "protocol.json"
    path.write_text(path.read_text().replace('"washout_days": 0.0', '"washout_days": 1.0'))
    with pytest.raises(ReaderStudyError, match="protocol.json has changed"):
        ReaderSession(study, "R1")


CHILD = """
import sys
from core.readerstudy import ReaderSession
session = ReaderSession(sys.argv[1], "R1")
while True:
    state = session.current()
    session.submit(state, "normal", 42.0, 0.1)
    print(state.treatment, state.case.case_id, flush=True)
"""


def test_a_kill_at_any_moment_loses_no_submitted_decision(tmp_path):
    study = _study(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(study)], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    reported = [child.stdout.readline().split() for _ in range(5)]
    child.send_signal(signal.SIGKILL)  # no clean-up, no atexit, no flush
    child.wait(timeout=30)
    with ReaderSession(study, "R1") as session:
        decided = session.decided()
        assert session.log.verify().ok
        assert all(tuple(r) in decided for r in reported)  # every reported decision survived
        state = session.current()  # and reading resumes at the next undecided case
        assert (state.treatment, state.case.case_id) not in decided


def test_export_gives_long_format_reads_that_analyze_accepts(tmp_path):
    study = _study(tmp_path)
    truth_rating = lambda case: 80.0 if case.truth != "normal" else 20.0  # noqa: E731
    _read_all(study, "R1", rating=truth_rating)
    _read_all(study, "R2", rating=lambda case: 60.0 if case.case_id in ("C001", "C002") else 40.0)
    status = export_reads(study, tmp_path / "reads.csv")
    assert {s.reader: len(s.decisions) for s in status} == {"R1": 12, "R2": 12}
    assert all(len(s.head) == 64 for s in status)
    reads = load_reads(tmp_path / "reads.csv")
    assert reads.ratings.shape == (2, 2, 6) and reads.n_negative == 2  # C001 and C006 are normal
    result = analyze(reads)
    assert result.fom["aided"].by_reader["R1"] == 1.0  # R1 rated by the truth
    rows = (tmp_path / "reads.csv").read_text().splitlines()
    assert rows[0] == (
        "reader,treatment,case,truth,rating,class_call,truth_class,seconds,decided_at,design,read,"
        "changed_after_ai,ai_class,ai_rating"
    )
    assert not any("P0" in line.split(",")[2] for line in rows[1:])  # case ids, not patients


def test_cnsight_study_create_status_verify_export(tmp_path, capsys, caplog, tiny_bundle):
    from core.cli.study import main

    study = tmp_path / "study"
    manifest = REPO / "resources" / "demo_study" / "manifest.csv"
    args = [
        "create",
        str(study),
        "--data",
        str(manifest),
        "--readers",
        "R1,R2",
        "--washout-days",
        "0",
    ]
    assert main([*args, "--model", str(tiny_bundle)]) == 0
    assert "5 of 5 cases have text burned into their pixels" in caplog.text  # the phantoms do
    assert "hold 1 normal and 4 abnormal" in caplog.text  # the demo study: one normal patient
    protocol, _ = load_protocol(study)
    assert len(protocol.cases) == 5 and protocol.model["path"] == str(Path(tiny_bundle).resolve())
    assert protocol.data_path(study) == manifest.resolve()
    assert main([*args, "--model", str(tiny_bundle)]) == 2  # never overwrites
    assert "never overwritten" in caplog.text
    _read_all(study, "R1", stop_after=4)
    assert main(["status", str(study)]) == 0
    out = capsys.readouterr().out
    assert "R1: 4/10 decisions" in out and "R2: not started" in out
    assert main(["verify", str(study)]) == 0
    assert main(["export", str(study), "--out", str(tmp_path / "reads.csv")]) == 0
    assert len((tmp_path / "reads.csv").read_text().splitlines()) == 5
    db = sqlite3.connect(study / "reads" / "R1.sqlite")
    db.execute("DROP TRIGGER events_no_delete")
    db.execute("DELETE FROM events WHERE seq = 3")
    db.commit()
    db.close()
    assert main(["verify", str(study)]) == 1
    assert "FAILS VERIFICATION - event 3 is missing" in capsys.readouterr().out
    assert (
        main(["create", str(tmp_path / "s2"), "--data", str(tmp_path / "none"), "--readers", "R1"])
        == 2
    )


def test_burned_in_annotation_is_read_from_dicom_headers_only():
    from core.discovery import discover
    from core.readerstudy.privacy import burned_in_patients

    demo = discover([REPO / "resources" / "demo_study" / "manifest.csv"]).patients
    assert burned_in_patients(demo[:2]) == [p.patient_id for p in demo[:2]]  # phantoms declare YES
    assert burned_in_patients(_patients()) == []  # PNG (and missing) files declare nothing
