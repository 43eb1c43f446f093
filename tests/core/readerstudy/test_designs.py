"""Study designs (issue 11, item 1): the sequential (second-read) design, the practice block
and the crossover's washout and block boundary; old protocols keep loading."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from core.cli.study import main as study_main
from core.errors import ReaderStudyError
from core.readerstudy import ReaderSession, StudyComplete, create_protocol, export_reads
from core.readerstudy.audit import verify_study
from core.readerstudy.export import reads_rows
from core.readerstudy.protocol import load_coordinator, load_protocol, reader_log_key, save_protocol
from core.records import ImageRef, Patient
from core.taxonomy import DEFAULT_CLASS_NAMES
from tests.core.readerstudy.test_log_integrity import _db, _rechain, _rows
from tests.support.studies import read_study

MODEL = {"path": "bundle", "seal_sha256": "cd" * 32, "weights_sha256": "ab" * 32}
LABELS = ["normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis"] * 2


def _patients(labels=LABELS):
    return [
        Patient(
            f"PAT-{i}",
            (ImageRef(Path(f"/data/{lab}/PAT-{i}/0.dcm"), patient_id=f"PAT-{i}", label=lab),),
        )
        for i, lab in enumerate(labels)
    ]


def _make(tmp_path, name="study", **kw) -> Path:
    kw = {"washout_days": 0.0} | kw
    protocol = create_protocol(_patients(), "data", ["R1", "R2"], DEFAULT_CLASS_NAMES, MODEL, **kw)
    save_protocol(protocol, tmp_path / name)
    return tmp_path / name


def test_sequential_reads_each_case_unaided_then_aided_in_one_chain(tmp_path):
    study = _make(tmp_path, design="sequential", washout_days=28)
    protocol, _ = load_protocol(study)
    assert protocol.design == "sequential" and protocol.washout_days == 0  # no washout
    assert [b.treatment for b in protocol.plan("R1")] == ["sequential"]
    reads = protocol.reads("R1")
    assert [(r.treatment, r.read) for r in reads[:4]] == [
        ("unaided", "first"), ("aided", "final"), ("unaided", "first"), ("aided", "final"),
    ]  # fmt: skip
    assert reads[0].case_id == reads[1].case_id != reads[2].case_id
    with ReaderSession(study, "R1") as session:
        first = session.current()
        assert (first.read, first.ai_allowed, first.first_decision) == ("first", False, None)
        session.submit(first, "normal", 30.0, 4.0)
        final = session.current()
        assert (final.case, final.read, final.ai_allowed) == (first.case, "final", True)
        assert final.first_decision["class_call"] == "normal"  # the window shows it
        with pytest.raises(ReaderStudyError, match="records the AI output"):
            session.submit(final, "anencephaly", 90.0, 2.0)
        logged = session.submit(final, "anencephaly", 90.0, 2.0, ai=("anencephaly", 95.0))
        assert logged["changed_after_ai"] is True and logged["read"] == "final"
        unchanged = session.current()
        session.submit(unchanged, "normal", 10.0, 1.0)
        again = session.current()
        assert (
            session.submit(again, "normal", 10.0, 1.0, ai=("normal", 5.0))["changed_after_ai"]
            is False
        )
        kinds = [e.kind for e in session.log.events()]
    assert kinds.count("decision") == 4  # both reads of both cases, in the same log
    read_study(study, "R1")
    _, statuses = verify_study(study)
    r1 = statuses[0]
    assert r1.ok and r1.authenticated and len(r1.decisions) == 20 == r1.planned
    rows, _ = reads_rows(study)
    assert {(r["treatment"], r["read"]) for r in rows} == {("unaided", "first"), ("aided", "final")}
    assert {r["changed_after_ai"] for r in rows if r["read"] == "final"} <= {"0", "1"}


def test_a_forged_changed_after_ai_flag_is_refused(tmp_path):
    study = _make(tmp_path, design="sequential")
    read_study(study, "R1", stop_after=2, rating=lambda case: 40.0)  # final = the AI's answer
    db = _db(study)
    rows = _rows(db)
    i = max(i for i, r in enumerate(rows) if r[3] == "decision")
    rows[i] = rows[i][:4] + (rows[i][4].replace('"changed_after_ai":true', '"changed_after_ai":false'),) + rows[i][5:]  # fmt: skip
    view = load_coordinator(study)
    _rechain(db, rows, view.protocol_sha256, reader_log_key(view.study_key, view.protocol.study_id, "R1"))  # fmt: skip
    db.close()
    _, statuses = verify_study(study)
    assert "changed_after_ai False contradicts the first read" in statuses[0].problem


def test_practice_cases_give_feedback_carry_their_own_truth_only_and_are_not_exported(tmp_path):
    study = _make(tmp_path, practice=3)
    raw = json.loads((study / "protocol.json").read_text())
    assert [c["case_id"] for c in raw["practice_cases"]] == ["P01", "P02", "P03"]
    assert all("truth" in c for c in raw["practice_cases"])
    assert all("truth" not in c for c in raw["cases"])  # study cases: still no truth
    protocol, _ = load_protocol(study)
    assert len(protocol.cases) == 7
    plan = protocol.plan("R1")
    assert plan[0].practice and set(plan[0].case_ids) == {"P01", "P02", "P03"}
    with ReaderSession(study, "R1") as session:
        state = session.current()
        assert state.practice and session.practice_truth(state) in DEFAULT_CLASS_NAMES
        session.submit(state, "normal", 10, 1)
    read_study(study, "R1")
    with ReaderSession(study, "R1") as session:
        assert isinstance(session.current(), StudyComplete)
    read_study(study, "R2")
    rows, statuses = __import__("core.readerstudy.export", fromlist=["reads_rows"]).reads_rows(
        study
    )
    assert all(s.ok for s in statuses) and statuses[0].planned == 3 + 2 * 7
    assert len(rows) == 2 * 2 * 7 and not any(r["case"].startswith("P") for r in rows)


def test_feedback_is_refused_for_a_study_case(tmp_path):
    study = _make(tmp_path)
    with ReaderSession(study, "R1") as session:
        state = session.current()
        with pytest.raises(ReaderStudyError, match="a study case: no feedback"):
            session.practice_truth(state)


@pytest.mark.parametrize("seed", range(12))
def test_the_second_block_never_opens_with_the_case_that_closed_the_first(seed):
    protocol = create_protocol(
        _patients(LABELS[:3]), "d", ["R1", "R2", "R3"], DEFAULT_CLASS_NAMES, MODEL, seed=seed
    )
    for reader in protocol.readers:
        first, second = protocol.plan(reader)
        assert first.case_ids[-1] != second.case_ids[0]
        assert sorted(first.case_ids) == sorted(second.case_ids)


def test_status_says_when_each_readers_washout_ends(tmp_path, capsys):
    study = _make(tmp_path, washout_days=28)
    read_study(study, "R1", stop_after=10)  # the whole first block
    assert study_main(["status", str(study)]) == 0
    out = capsys.readouterr().out
    with ReaderSession(study, "R1") as session:
        ends = session.current().available_at
    assert f"R1: 10/20 decisions, washout ends {ends:%Y-%m-%d %H:%M} UTC (aided block next)" in out
    assert "R2: 0/20 decisions\n" in out
    assert ends - dt.datetime.now(dt.UTC) > dt.timedelta(days=27)


def test_a_schema_2_study_made_before_designs_still_reads_and_verifies(tmp_path):
    protocol = create_protocol(
        _patients(), "data", ["R1"], DEFAULT_CLASS_NAMES, MODEL, washout_days=0
    )
    old = protocol.__class__(**{**protocol.__dict__, "schema": 2})
    save_protocol(old, tmp_path / "old")
    raw = json.loads((tmp_path / "old" / "protocol.json").read_text())
    assert raw["schema"] == 2 and "design" not in raw and "practice_cases" not in raw
    read_study(tmp_path / "old", "R1")  # schema 2: decisions carry no read / AI fields
    _, statuses = verify_study(tmp_path / "old")
    assert statuses[0].ok and len(statuses[0].decisions) == 20
    assert export_reads(tmp_path / "old", tmp_path / "reads.csv")[0].ok


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"design": "parallel"}, "unknown design"), ({"practice": 9}, "need at least 2 study cases")],
)
def test_bad_designs_are_refused(kwargs, message):
    with pytest.raises(ReaderStudyError, match=message):
        create_protocol(_patients(), "d", ["R1"], DEFAULT_CLASS_NAMES, MODEL, **kwargs)


def test_cnsight_study_create_takes_the_design_and_practice(tmp_path, tiny_bundle):
    manifest = Path(__file__).resolve().parents[3] / "resources" / "demo_study" / "manifest.csv"
    args = ["create", str(tmp_path / "s"), "--data", str(manifest), "--readers", "R1,R2"]
    extra = ["--design", "sequential", "--practice", "1", "--model", str(tiny_bundle)]
    assert study_main([*args, *extra]) == 0
    protocol, _ = load_protocol(tmp_path / "s")
    assert protocol.design == "sequential" and len(protocol.practice_cases) == 1
    assert len(protocol.cases) == 4 and protocol.reads("R1")[0].practice
    bad = ["create", str(tmp_path / "t"), "--data", str(manifest), "--readers", "R1"]
    assert study_main([*bad, "--practice", "4", "--model", str(tiny_bundle)]) == 2
    assert not (tmp_path / "t" / "protocol.json").exists()
