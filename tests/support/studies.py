"""Reader studies for tests: read a study as a reader, straight through the core session."""

from __future__ import annotations

from core.readerstudy import ReaderSession, StudyComplete
from core.readerstudy.protocol import load_coordinator


def read_study(study, reader, stop_after=None, rating=lambda case: 50.0, seconds=3.0) -> int:
    """Decide cases in the reader's order until the study is complete or ``stop_after``
    decisions were made; returns how many were. ``rating`` sees the case with its truth (the
    coordinator's view: a reader's session has none); the class called is the truth when the
    rating is 50 or more, else ``normal``."""
    truth = {c.case_id: c for c in load_coordinator(study).protocol.cases}
    n = 0
    with ReaderSession(study, reader) as session:
        while stop_after is None or n < stop_after:
            state = session.current()
            if isinstance(state, StudyComplete):
                break
            session.mark_shown(state)
            case = truth[state.case.case_id]
            score = rating(case)
            session.submit(state, case.truth if score >= 50 else "normal", score, seconds)
            n += 1
    return n
