"""Reader studies: the protocol a coordinator creates, the reading sessions, and their log.

A study is a folder:

    STUDY/protocol.json        who reads which cases in which treatment and order (coordinator)
    STUDY/reads/<reader>.sqlite one append-only, hash-chained event log per reader

Every decision is committed (SQLite WAL, synchronous=FULL) before the reader sees the next
case, so a crash or a kill at any moment loses no submitted decision, and reopening resumes at
the first case without one. Each event's hash covers the previous event's hash, anchored on the
protocol's sha256, so a later edit of the log or the protocol is detected by ``verify``.
``export_reads`` writes the long-format reads ``cnsight-study analyze`` reads.
"""

from core.readerstudy.export import export_reads, reads_rows
from core.readerstudy.log import ReadLog, VerifyResult
from core.readerstudy.protocol import Block, CaseSpec, Protocol, create_protocol, load_protocol
from core.readerstudy.session import ReaderSession, SessionState, StudyComplete, WashoutPending

__all__ = [
    "Block",
    "CaseSpec",
    "Protocol",
    "ReadLog",
    "ReaderSession",
    "SessionState",
    "StudyComplete",
    "VerifyResult",
    "WashoutPending",
    "create_protocol",
    "export_reads",
    "load_protocol",
    "reads_rows",
]
