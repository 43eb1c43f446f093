"""Reader studies for tests: read a study as a reader, straight through the core session."""

from __future__ import annotations

from core.readerstudy import ReaderSession, StudyComplete
from core.readerstudy.protocol import load_coordinator


def truth_call(case, score: float) -> str:
    """The class a reader who rates ``score`` calls: the truth from 50 up, else normal."""
    return case.truth if score >= 50 else "normal"


def read_study(
    study,
    reader,
    stop_after=None,
    rating=lambda case: 50.0,
    seconds=3.0,
    ai=lambda case: (case.truth, 80.0),
    final=None,
    call=truth_call,
) -> int:
    """Decide reads in the reader's order until the study is complete or ``stop_after``
    decisions were made; returns how many were. ``rating`` sees the case with its truth (the
    coordinator's view: a reader's session has none) and the state; the class called is
    ``call(case, rating)`` (default: the truth when the rating is 50 or more, else normal).
    ``ai(case)``: the AI output an aided read shows (class, rating). ``final(case, first, ai)``:
    in a sequential study, the final (class, rating) from the first read's payload and the AI's
    output (default: the AI's). ``seconds``: a number or ``seconds(case, state)``."""
    truth = {c.case_id: c for c in load_coordinator(study).protocol.cases}
    n = 0
    with ReaderSession(study, reader) as session:
        truth |= {c.case_id: c for c in session.protocol.practice_cases}
        while stop_after is None or n < stop_after:
            state = session.current()
            if isinstance(state, StudyComplete):
                break
            session.mark_shown(state)
            case = truth[state.case.case_id]
            shown = ai(case) if state.ai_allowed else None
            if state.read == "final":
                class_call, score = (final or (lambda c, first, a: a))(
                    case, state.first_decision, shown
                )
            else:
                score = rating(case)
                class_call = call(case, score)
            secs = seconds(case, state) if callable(seconds) else seconds
            session.submit(state, class_call, score, secs, ai=shown)
            n += 1
    return n
