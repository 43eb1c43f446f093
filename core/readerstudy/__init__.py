"""Reader studies: the protocol a coordinator creates, the reading sessions, and their log.

A study is two folders (protocol schema 2):

    STUDY/protocol.json          what readers' workstations need: case ids, reading order, washout,
                                 the model's seal; images named by salted hashes (no truth, no ids)
    STUDY/reads/<reader>.sqlite  one append-only, hash-chained, MAC-authenticated log per reader
    STUDY/reads/<reader>.token   the reader's first log key, until the first session uses it
    STUDY.coordinator/           truth.json (truth, patient ids, paths), study.key, heads.jsonl

Every decision is committed (SQLite WAL, synchronous=FULL) before the reader sees the next
case, so a crash or a kill at any moment loses no submitted decision, and reopening resumes at
the first case without one. Each event's hash covers the previous event's hash, anchored on the
protocol's sha256; each event's MAC comes from a forward-secure key chain derived from the study
key, which only the coordinator holds. ``core.readerstudy.audit.verify_study`` checks every log
read-only (chain, MACs, every event against the protocol, witnessed heads);
``export_reads`` writes the long-format reads ``cnsight-study analyze`` reads;
``core.readerstudy.backup`` copies logs consistently. docs/reader-study.md says what is and is
not detectable.
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
