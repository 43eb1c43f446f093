"""A reader's session: which case comes next (resuming after any interruption), whether AI may
be shown, the washout between treatments, and recording each decision durably."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ReaderStudyError
from core.readerstudy.audit import DECISION, check_events, log_path
from core.readerstudy.log import ReadLog, check_chain
from core.readerstudy.protocol import AIDED, CaseSpec, load_protocol, token_path


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

    @property
    def ai_allowed(self) -> bool:
        """Blinding: AI output may be computed and shown only in aided reads."""
        return self.treatment == AIDED


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

    def progress(self) -> tuple[int, int]:
        """(decisions made, decisions in the plan)."""
        return len(self.decided()), sum(len(b.case_ids) for b in self.plan)

    def current(self) -> SessionState | WashoutPending | StudyComplete:
        """The first undecided case in plan order, else why there is none now."""
        done = self.decided()
        previous_end = None
        for i, block in enumerate(self.plan):
            todo = [c for c in block.case_ids if (block.treatment, c) not in done]
            if not todo:
                previous_end = max(_parse(done[(block.treatment, c)]["ts"]) for c in block.case_ids)
                continue
            started = len(todo) < len(block.case_ids)
            if previous_end is not None and not started:
                available = previous_end + _dt.timedelta(days=self.protocol.washout_days)
                if self.clock() < available:
                    return WashoutPending(available, block.treatment)
            case_id = todo[0]
            return SessionState(
                self.reader, i, len(self.plan), block.treatment, self.protocol.case(case_id),
                block.case_ids.index(case_id) + 1, len(block.case_ids),
            )  # fmt: skip
        return StudyComplete(self.reader)

    def mark_shown(self, state: SessionState) -> None:
        """Log that the case was put on screen (audit trail; reading time is measured from here)."""
        self.log.append("case_shown", {"case_id": state.case.case_id, "treatment": state.treatment})

    def submit(self, state: SessionState, class_call: str, rating: float, seconds: float) -> None:
        """Record the decision on ``state``'s case; durable when this returns."""
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
        self.log.append(DECISION, payload, unique_fields=("treatment", "case_id"))
