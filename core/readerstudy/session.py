"""A reader's session: which case comes next (resuming after any interruption), whether AI may
be shown, the washout between treatments, and recording each decision durably."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ReaderStudyError
from core.readerstudy.audit import DECISION, check_events, decision_fields, log_path, washout_opens
from core.readerstudy.log import ReadLog, check_chain
from core.readerstudy.protocol import (
    AIDED,
    FINAL,
    SINGLE,
    CaseSpec,
    Protocol,
    load_protocol,
    token_path,
)


def _read_token(token: Path, reader: str) -> bytes:
    """Reader ``reader``'s first log key, from the token the coordinator put in reads/."""
    try:
        key = bytes.fromhex(token.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise ReaderStudyError(
            f"{token}: missing - reader {reader}'s log token is needed to start reading (it is "
            "used up by the first session; if that session's log is gone too, ask the "
            "coordinator)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReaderStudyError(f"{token}: not a reader token ({e})") from None
    if len(key) != 32:
        raise ReaderStudyError(f"{token}: not a reader token (expected 32 bytes in hex)")
    return key


@dataclass(frozen=True)
class WashoutPending:
    """The reader finished a treatment block; the next starts after the washout (a normal
    outcome of ``current()``, not an error)."""

    available_at: _dt.datetime
    treatment: str

    @property
    def message(self) -> str:
        return (
            f"the {self.treatment} reads start after the washout, on "
            f"{self.available_at:%Y-%m-%d %H:%M} UTC "
            "(the same cases must not be remembered from the first reading)"
        )


@dataclass(frozen=True)
class StudyComplete:
    """Every case of every block is decided (a normal outcome of ``current()``)."""

    reader: str

    @property
    def message(self) -> str:
        return f"reader {self.reader} has decided every case of this study - thank you"


@dataclass(frozen=True)
class SessionState:
    reader: str
    block_index: int  # 0-based
    n_blocks: int
    treatment: str
    case: CaseSpec
    position: int  # 1-based within the block
    block_size: int
    read: str = SINGLE  # single (crossover), first (unaided) or final (aided) (sequential)
    practice: bool = False  # a practice case: the truth is shown after the decision
    first_decision: dict | None = None  # a final read: the reader's own first read of the case

    @property
    def ai_allowed(self) -> bool:
        """Blinding: AI output may be computed and shown only in aided reads."""
        return self.treatment == AIDED


def next_read(
    protocol: Protocol, reader: str, done: dict[tuple[str, str], dict], now: _dt.datetime
) -> SessionState | WashoutPending | StudyComplete:
    """The first undecided read of ``reader``'s plan given the decisions ``done``
    ((treatment, case) -> payload with ``ts``), else why there is none now: the washout (its
    end is ``available_at``) or the end of the study. One rule for the session and ``status``."""
    plan = protocol.plan(reader)
    block_ends: dict[int, _dt.datetime] = {}
    for read in protocol.reads(reader):
        decision = done.get((read.treatment, read.case_id))
        if decision is not None:
            when = _parse(decision["ts"])
            block_ends[read.block] = max(block_ends.get(read.block, when), when)
            continue
        block = plan[read.block]
        opens = washout_opens(protocol, plan, read.block, block_ends)
        if read.block not in block_ends and opens is not None and now < opens:
            return WashoutPending(opens, block.treatment)
        first = done.get(("unaided", read.case_id)) if read.read == FINAL else None
        return SessionState(
            reader, read.block, len(plan), read.treatment, protocol.case(read.case_id),
            block.case_ids.index(read.case_id) + 1, len(block.case_ids),
            read.read, read.practice, first,
        )  # fmt: skip
    return StudyComplete(reader)


def _parse(ts: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(ts)


class ReaderSession:
    def __init__(
        self,
        study_dir: str | Path,
        reader: str,
        clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.UTC),
    ):
        self.study_dir = Path(study_dir)
        self.protocol, self.protocol_sha256 = load_protocol(self.study_dir)
        self.reader = reader
        self.plan = self.protocol.plan(reader)
        self.clock = clock
        path = log_path(self.study_dir, reader)
        token = token_path(self.study_dir, reader)
        first_key = None
        if self.protocol.keyed and not path.exists():
            first_key = _read_token(token, reader)
        self.log = ReadLog(path, self.protocol_sha256, reader, first_key)
        if self.protocol.keyed and token.exists():
            token.unlink()  # K_1 now lives only as the log's evolving key (log.py)
        rows = self.log.rows()
        check = check_chain(rows, self.protocol_sha256)
        problem = (
            check.problem or check_events(self.protocol, reader, self.protocol_sha256, rows)[0]
        )
        if problem:
            self.log.close()
            raise ReaderStudyError(
                f"reading log of {reader} fails verification: {problem}; ask the coordinator"
            )
        self.log.append("session_started", {})

    def close(self) -> None:
        self.log.close()

    def __enter__(self) -> ReaderSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def decided(self) -> dict[tuple[str, str], dict]:
        """(treatment, case_id) -> the decision event's payload and time."""
        return {
            (e.payload["treatment"], e.payload["case_id"]): e.payload | {"ts": e.ts}
            for e in self.log.events(DECISION)
        }

    def current(self) -> SessionState | WashoutPending | StudyComplete:
        """The first undecided read in plan order, else why there is none now."""
        return next_read(self.protocol, self.reader, self.decided(), self.clock())

    def progress(self) -> tuple[int, int]:
        """(decisions made, decisions in the plan)."""
        return len(self.decided()), len(self.protocol.reads(self.reader))

    def practice_truth(self, state: SessionState) -> str:
        """The truth of a practice case (feedback); refused for a study case - the reader's
        workstation has no truth of those at all."""
        if not state.practice:
            raise ReaderStudyError(f"case {state.case.case_id} is a study case: no feedback")
        return self.protocol.case(state.case.case_id).truth

    def mark_shown(self, state: SessionState) -> None:
        """Log that the case was put on screen (audit trail; reading time is measured from here)."""
        self.log.append("case_shown", {"case_id": state.case.case_id, "treatment": state.treatment})

    def submit(
        self,
        state: SessionState,
        class_call: str,
        rating: float,
        seconds: float,
        ai: tuple[str, float | None] | None = None,
    ) -> dict:
        """Record the decision on ``state``'s case; durable when this returns. ``ai``: the AI
        output the aided read showed (class, confidence 0-100 that the case is abnormal),
        required in aided reads of a schema-3 study; ``("", None)`` when the model found the
        case not assessable (no verdict shown). Returns the logged payload."""
        if class_call not in self.protocol.class_names:
            raise ReaderStudyError(
                f"unknown class {class_call!r}; choose from {', '.join(self.protocol.class_names)}"
            )
        if not 0.0 <= float(rating) <= 100.0:
            raise ReaderStudyError(f"the rating is a confidence from 0 to 100, got {rating}")
        now = self.current()
        if not isinstance(now, SessionState):
            raise ReaderStudyError(
                f"case {state.case.case_id} cannot be decided now: {now.message}"
            )
        if (now.treatment, now.case.case_id) != (state.treatment, state.case.case_id):
            raise ReaderStudyError(
                f"case {state.case.case_id} is not the case to decide now (that is {now.case.case_id})"
            )
        payload = {
            "case_id": state.case.case_id,
            "treatment": state.treatment,
            "block": state.block_index,
            "class_call": class_call,
            "rating": float(rating),
            "seconds": round(float(seconds), 3),
        }
        fields = decision_fields(self.protocol, state.treatment, now.read)
        if "read" in fields:
            payload["read"] = now.read
        if "ai_class" in fields:
            none_shown = ai is not None and ai == ("", None)
            if (
                ai is None
                or not none_shown
                and (ai[0] not in self.protocol.class_names or not 0 <= ai[1] <= 100)
            ):
                raise ReaderStudyError(
                    "an aided decision records the AI output it showed (class and 0-100 rating)"
                )
            payload["ai_class"] = ai[0]
            payload["ai_rating"] = None if none_shown else float(ai[1])
        if "changed_after_ai" in fields:
            first = now.first_decision or {}
            payload["changed_after_ai"] = (first.get("class_call"), first.get("rating")) != (
                class_call,
                float(rating),
            )
        self.log.append(DECISION, payload, unique_fields=("treatment", "case_id"))
        return payload
