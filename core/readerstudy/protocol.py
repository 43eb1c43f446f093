"""The study protocol: cases (anonymous ids, truth, images), readers, treatments, reading order,
washout, and the model the aided reads use. Written once by the coordinator; its sha256 anchors
every reader's log, so editing it afterwards is detected.

Two files since protocol schema 2 (what a reader's workstation needs, and what it must not
hold):

- ``STUDY/protocol.json`` - the folder readers open: case ids, each case's images as paths
  relative to the data folder, readers, reading order, washout, the model (path and seal). No
  truth label, no patient id, no absolute path.
- ``COORDINATOR/truth.json`` and ``COORDINATOR/study.key`` - kept by the coordinator (by
  default the folder ``STUDY.coordinator`` beside the study; move it where readers cannot
  reach): each case's patient id, truth and absolute image paths, and the study's secret key
  that authenticates every reading log (``core.readerstudy.log``). ``STUDY/reads/R.token``
  holds reader R's first log key until R's first session consumes it.

Schema-1 studies (one protocol.json with everything) still open; their logs are not keyed.

Two designs (schema 3; older protocols are crossover studies):

- ``crossover``: every reader reads every case unaided and aided, in two blocks apart by the
  washout, half the readers aided first;
- ``sequential`` (second read): one block; for every case the reader commits an unaided
  decision (``first`` read), then the AI output appears and the reader commits the ``final``
  decision for the same case. No washout.

Either may start with a practice block: extra cases (``practice_cases``, ids ``P01``...) whose
truth *is* in protocol.json - the reading window shows it as feedback after each practice
decision. They are never study cases, so the truth of a study case still never reaches a
reader's workstation; practice decisions are logged like the others and left out of every
export and analysis.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import math
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ReaderStudyError

PROTOCOL_NAME = "protocol.json"
TRUTH_NAME = "truth.json"
KEY_NAME = "study.key"
TOKEN_SUFFIX = ".token"
#: 2: the coordinator's part (truth, patient ids, paths, key) kept apart; 3: designs (crossover,
#: sequential), practice cases, and the AI output the reader saw logged with each aided decision.
SCHEMA = 3
READABLE_SCHEMAS = (1, 2, 3)
MAX_PROTOCOL_BYTES = 64 << 20
UNAIDED, AIDED = "unaided", "aided"
TREATMENTS = (UNAIDED, AIDED)
CROSSOVER, SEQUENTIAL = "crossover", "sequential"
DESIGNS = (CROSSOVER, SEQUENTIAL)
#: The reads of one case in one block: a crossover block reads each case once (``single``); a
#: sequential block twice, unaided (``first``) then aided (``final``).
SINGLE, FIRST, FINAL = "single", "first", "final"
_READER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class CaseSpec:
    """One case as readers and exports see it: an anonymous id, never the patient's name."""

    case_id: str
    patient_id: str  # in the data, for the coordinator only ("" on a reader's workstation)
    truth: str  # class name; "" on a reader's workstation
    image_keys: tuple[str, ...]  # the images found when the study was created (see Protocol)
    source_keys: tuple[str, ...] = ()  # schema 2, coordinator only: the absolute image keys


@dataclass(frozen=True)
class Block:
    """One treatment's cases for one reader, in reading order. In a sequential study the
    treatment is ``sequential``: each case is read unaided, then aided."""

    treatment: str
    case_ids: tuple[str, ...]
    practice: bool = False  # practice cases: feedback with the truth, never analysed


@dataclass(frozen=True)
class PlannedRead:
    """One decision the reader's plan asks for, in plan order."""

    block: int  # index into the reader's plan
    treatment: str  # unaided or aided: what the reader sees
    case_id: str
    read: str  # single, first or final
    practice: bool


def planned_reads(blocks: Sequence[Block]) -> list[PlannedRead]:
    """Every decision of a plan, in order: a sequential block asks for the unaided (first) and
    then the aided (final) decision of each case before the next case."""
    reads = []
    for i, b in enumerate(blocks):
        for c in b.case_ids:
            if b.treatment == SEQUENTIAL:
                reads.append(PlannedRead(i, UNAIDED, c, FIRST, b.practice))
                reads.append(PlannedRead(i, AIDED, c, FINAL, b.practice))
            else:
                reads.append(PlannedRead(i, b.treatment, c, SINGLE, b.practice))
    return reads


@dataclass(frozen=True)
class Protocol:
    study_id: str
    title: str
    created: str
    data: str  # the data the cases come from (path relative to the study folder when possible)
    class_names: tuple[str, ...]
    normal_class: str
    readers: tuple[str, ...]
    treatments: tuple[str, ...]
    cases: tuple[CaseSpec, ...]
    plans: dict[str, tuple[Block, ...]]
    washout_days: float
    seed: int
    model: dict | None  # {"path", "seal_sha256", "weights_sha256", "name"} for aided reads
    rating: str = "confidence that the case is abnormal, 0 (surely normal) to 100 (surely abnormal)"
    #: 1: image keys are the absolute keys found at creation and truth is inside; 2: image keys
    #: are relative to the data folder, truth and patient ids are in the coordinator's folder;
    #: 3: designs and practice cases.
    schema: int = SCHEMA
    design: str = CROSSOVER
    #: Practice cases, with their truth (shown to the reader as feedback; never analysed).
    practice_cases: tuple[CaseSpec, ...] = ()

    @property
    def keyed(self) -> bool:
        """Whether the readers' logs carry the study key's MAC chain (schema 2)."""
        return self.schema >= 2

    @property
    def has_truth(self) -> bool:
        return all(c.truth for c in self.cases)

    def case(self, case_id: str) -> CaseSpec:
        for c in self.cases + self.practice_cases:
            if c.case_id == case_id:
                return c
        raise ReaderStudyError(f"case {case_id!r} is not in this study")

    def is_practice(self, case_id: str) -> bool:
        return any(c.case_id == case_id for c in self.practice_cases)

    def reads(self, reader: str) -> list[PlannedRead]:
        return planned_reads(self.plan(reader))

    def plan(self, reader: str) -> tuple[Block, ...]:
        if reader not in self.plans:
            raise ReaderStudyError(
                f"reader {reader!r} is not enrolled in this study ({', '.join(self.readers)})"
            )
        return self.plans[reader]

    def data_path(self, study_dir: Path) -> Path:
        path = Path(self.data)
        return path if path.is_absolute() else (Path(study_dir) / path).resolve()

    def data_dir(self, study_dir: Path) -> Path:
        """The folder image keys are relative to: ``data``, or the folder of its manifest."""
        path = self.data_path(study_dir)
        return path if path.is_dir() else path.parent

    def to_dict(self) -> dict:
        """The reader-side protocol.json (schema 1: everything, as such studies were written)."""
        reader_side = self.schema >= 2
        return {
            "schema": self.schema,
            "study_id": self.study_id,
            "title": self.title,
            "created": self.created,
            "data": self.data,
            "class_names": list(self.class_names),
            "normal_class": self.normal_class,
            "readers": list(self.readers),
            "treatments": list(self.treatments),
            "rating": self.rating,
            "washout_days": self.washout_days,
            "seed": self.seed,
            "model": self.model,
            "cases": [
                {"case_id": c.case_id, "images": list(c.image_keys)}
                if reader_side
                else {
                    "case_id": c.case_id,
                    "patient_id": c.patient_id,
                    "truth": c.truth,
                    "images": list(c.image_keys),
                }
                for c in self.cases
            ],
            "plans": {
                r: [
                    {"treatment": b.treatment, "cases": list(b.case_ids)}
                    | ({"practice": True} if b.practice else {})
                    for b in blocks
                ]
                for r, blocks in self.plans.items()
            },
        } | (
            {
                "design": self.design,
                "practice_cases": [
                    {"case_id": c.case_id, "truth": c.truth, "images": list(c.image_keys)}
                    for c in self.practice_cases
                ],
            }
            if self.schema >= 3
            else {}
        )

    @classmethod
    def from_dict(cls, d: dict, source: str = PROTOCOL_NAME) -> Protocol:
        schema = d.get("schema") if isinstance(d, dict) else None
        if schema not in READABLE_SCHEMAS or isinstance(schema, bool):
            raise ReaderStudyError(
                f"{source}: unknown protocol schema {schema!r} (this CNSight reads "
                f"{', '.join(map(str, READABLE_SCHEMAS))})"
            )
        try:
            cases = tuple(
                CaseSpec(
                    str(c["case_id"]), str(c.get("patient_id", "") if schema >= 2 else c["patient_id"]),
                    str(c.get("truth", "") if schema >= 2 else c["truth"]), tuple(map(str, c["images"])),
                )
                for c in d["cases"]
            )  # fmt: skip
            plans = {
                str(r): tuple(
                    Block(
                        str(b["treatment"]), tuple(map(str, b["cases"])), b.get("practice") is True
                    )
                    for b in blocks
                )
                for r, blocks in d["plans"].items()
            }
            practice = tuple(
                CaseSpec(str(c["case_id"]), "", str(c["truth"]), tuple(map(str, c["images"])))
                for c in (d.get("practice_cases", []) if schema >= 3 else [])
            )
            protocol = cls(
                study_id=str(d["study_id"]), title=str(d.get("title", "")), created=str(d["created"]), data=str(d["data"]),
                class_names=tuple(map(str, d["class_names"])), normal_class=str(d["normal_class"]),
                readers=tuple(map(str, d["readers"])), treatments=tuple(map(str, d["treatments"])), cases=cases,
                plans=plans, washout_days=float(d["washout_days"]), seed=int(d["seed"]), model=d.get("model"),
                rating=str(d.get("rating", cls.rating)), schema=schema,
                design=str(d["design"]) if schema >= 3 else CROSSOVER, practice_cases=practice,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ReaderStudyError(f"{source}: not a valid protocol ({e!r})") from None
        protocol.check(source)
        return protocol

    def check(self, source: str) -> None:
        """The protocol is self-consistent: every event of a log is checked against it."""

        def bad(reason: str):
            raise ReaderStudyError(f"{source}: not a valid protocol ({reason})")

        ids = [c.case_id for c in self.cases]
        practice_ids = {c.case_id for c in self.practice_cases}
        if len(set(ids)) != len(ids) or practice_ids & set(ids):
            bad("case ids repeat")
        if len(practice_ids) != len(self.practice_cases):
            bad("practice case ids repeat")
        if self.design not in DESIGNS:
            bad(f"design {self.design!r} (known: {', '.join(DESIGNS)})")
        if any(c.truth not in self.class_names for c in self.practice_cases):
            bad("a practice case's truth is not a class")
        if not set(self.treatments) <= set(TREATMENTS) or len(set(self.treatments)) != len(
            self.treatments
        ):
            bad(f"treatments {list(self.treatments)} (known: {', '.join(TREATMENTS)})")
        if set(self.plans) != set(self.readers) or len(set(self.readers)) != len(self.readers):
            bad("the plans do not name exactly the readers")
        if any(not _READER_ID.match(r) for r in self.readers):
            bad("a reader id is not 1-32 letters, digits, '-' or '_'")
        if self.normal_class not in self.class_names:
            bad(f"normal class {self.normal_class!r} is not a class")
        if not (math.isfinite(self.washout_days) and self.washout_days >= 0):
            bad(f"washout_days {self.washout_days}")
        block_treatments = {SEQUENTIAL} if self.design == SEQUENTIAL else set(self.treatments)
        for reader, blocks in self.plans.items():
            practice_flags = [b.practice for b in blocks]
            if practice_flags != sorted(practice_flags, reverse=True):
                bad(f"reader {reader}: practice blocks must come first")
            for block in blocks:
                known = practice_ids if block.practice else set(ids)
                if block.treatment not in block_treatments:
                    bad(f"reader {reader}: treatment {block.treatment!r}")
                if not set(block.case_ids) <= known or len(set(block.case_ids)) != len(
                    block.case_ids
                ):
                    bad(
                        f"reader {reader}: a {block.treatment} block names unknown or repeated cases"
                    )
        truths = [c.truth for c in self.cases if c.truth]
        if any(t not in self.class_names for t in truths):
            bad("a truth label is not a class")
        if self.schema >= 2 and any(
            os.path.isabs(k) or k.startswith("..") for c in self.cases for k in c.image_keys
        ):
            bad("image paths must be relative to the data folder")  # fmt: skip

    def with_truth(self, truth: dict[str, tuple[str, str]]) -> Protocol:
        """This protocol with each case's (patient id, truth) from the coordinator's file."""
        missing = [c.case_id for c in self.cases if c.case_id not in truth]
        if missing:
            raise ReaderStudyError(f"{TRUTH_NAME} lacks case(s) {', '.join(missing[:5])}")
        cases = tuple(
            CaseSpec(c.case_id, truth[c.case_id][0], truth[c.case_id][1], c.image_keys)
            for c in self.cases
        )
        merged = Protocol(**{**self.__dict__, "cases": cases})
        merged.check(TRUTH_NAME)
        return merged


def _order(case_ids: Sequence[str], seed: int, reader: int, block: int) -> tuple[str, ...]:
    perm = np.random.default_rng([seed, reader, block]).permutation(len(case_ids))
    return tuple(case_ids[k] for k in perm)


def _plans(
    readers, case_ids, treatments, seed: int, design: str = CROSSOVER, practice_ids=()
) -> dict[str, tuple[Block, ...]]:
    """Crossover, counterbalanced: even-numbered readers read the treatments in the given order,
    odd ones in reverse; each block in its own random order (seeded by study seed, reader,
    block), and the second block never opens with the case that closed the first (read twice in
    a row across the washout, it is the one most likely remembered). Sequential: one block per
    reader, its own random order. Practice cases: a first block, in the treatment of the
    reader's first block (sequential: read first unaided, then aided)."""
    plans = {}
    for i, reader in enumerate(readers):
        if design == SEQUENTIAL:
            order = [SEQUENTIAL]
        else:
            order = list(treatments) if i % 2 == 0 else list(reversed(treatments))
        blocks = []
        for j, treatment in enumerate(order):
            cases = _order(case_ids, seed, i, j)
            if blocks and len(cases) > 1 and cases[0] == blocks[-1].case_ids[-1]:
                cases = cases[1:] + cases[:1]
            blocks.append(Block(treatment, cases))
        if practice_ids:
            blocks.insert(0, Block(order[0], _order(practice_ids, seed, i, 99), practice=True))
        plans[reader] = tuple(blocks)
    return plans


def image_token(study_id: str, relative_key: str) -> str:
    """How a schema-2 protocol names an image: a salted hash of its key relative to the data
    folder, so protocol.json holds no path (folder names often carry patient ids or labels).
    The reading workstation finds the image by hashing the keys it discovers."""
    digest = hashlib.sha256(f"{study_id}\0{relative_key}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def relative_key(key: str, data_dir: Path) -> str:
    """An image key (``path`` or ``path#frame``) relative to the data folder, with '/'."""
    path, sep, frame = key.rpartition("#")
    if not (sep and frame.isdigit()):
        path, frame = key, ""
    rel = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(data_dir))).as_posix()
    return rel + (f"#{frame}" if frame else "")


def create_protocol(
    patients: Sequence,  # core.records.Patient, with labels
    data: str,
    readers: Sequence[str],
    class_names: Sequence[str],
    model: dict | None,
    seed: int = 0,
    washout_days: float = 28.0,
    title: str = "",
    normal_class: str = "normal",
    data_dir: str | Path | None = None,
    design: str = CROSSOVER,
    practice: int = 0,
) -> Protocol:
    """A protocol over ``patients`` (each becomes one case) for ``readers``, unaided and aided.
    ``data_dir``: the folder image keys are taken relative to - the folder ``data`` names (or
    its manifest's folder), which is how the reading workstation finds them
    (``Protocol.data_dir``); default: that of an absolute ``data``, else the folder holding
    every image."""
    readers = [r.strip() for r in readers if r.strip()]
    bad = [r for r in readers if not _READER_ID.match(r)]
    if bad:
        raise ReaderStudyError(
            f"reader ids must be 1-32 letters, digits, '-' or '_': {', '.join(map(repr, bad))}"
        )
    if len(set(readers)) != len(readers) or len(readers) < 1:
        raise ReaderStudyError("need at least one reader, each listed once")
    if normal_class not in class_names:
        raise ReaderStudyError(
            f"the class list must contain {normal_class!r} (the truth of normal cases)"
        )
    if washout_days < 0:
        raise ReaderStudyError(f"washout must be >= 0 days, got {washout_days}")
    if model is None:
        raise ReaderStudyError("aided reads need a model bundle")
    unlabelled = [p.patient_id for p in patients if p.label not in class_names]
    if unlabelled:
        raise ReaderStudyError(
            f"{len(unlabelled)} patient(s) without a truth label from the class list, e.g. "
            f"{', '.join(unlabelled[:3])}: a reader study needs the truth of every case"
        )
    if design not in DESIGNS:
        raise ReaderStudyError(f"unknown design {design!r}; choose from {', '.join(DESIGNS)}")
    if len(patients) < 2:
        raise ReaderStudyError("need at least 2 cases")
    if practice < 0 or len(patients) - practice < 2:
        raise ReaderStudyError(
            f"{practice} practice case(s) of {len(patients)} patients: need at least 2 study "
            "cases left (and a practice count >= 0)"
        )
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    study_id = hashlib.sha256(f"{created}{data}{readers}{seed}{os.getpid()}".encode()).hexdigest()[
        :12
    ]
    ordered = sorted(patients, key=lambda p: p.patient_id)
    drawn = set(np.random.default_rng([seed, 7]).choice(len(ordered), practice, replace=False))
    practice_patients = [p for i, p in enumerate(ordered) if i in drawn]
    ordered = [p for i, p in enumerate(ordered) if i not in drawn]
    if data_dir is None and Path(data).is_absolute() and Path(data).exists():
        data_dir = Path(data) if Path(data).is_dir() else Path(data).parent
    if data_dir is None:
        data_dir = os.path.commonpath(
            [os.path.dirname(os.path.abspath(r.path)) for p in ordered for r in p.images]
        )
    width = max(3, len(str(len(patients))))
    cases = tuple(
        CaseSpec(
            f"C{i + 1:0{width}d}", p.patient_id, p.label,
            tuple(image_token(study_id, relative_key(r.key, Path(data_dir))) for r in p.images),
            tuple(r.key for r in p.images),
        )
        for i, p in enumerate(ordered)
    )  # fmt: skip
    practice_cases = tuple(
        CaseSpec(
            f"P{i + 1:02d}", p.patient_id, p.label,
            tuple(image_token(study_id, relative_key(r.key, Path(data_dir))) for r in p.images),
            tuple(r.key for r in p.images),
        )
        for i, p in enumerate(practice_patients)
    )  # fmt: skip
    ids = [c.case_id for c in cases]
    plans = _plans(readers, ids, TREATMENTS, seed, design, [c.case_id for c in practice_cases])
    return Protocol(
        study_id=study_id, title=title, created=created, data=data, class_names=tuple(class_names),
        normal_class=normal_class, readers=tuple(readers), treatments=TREATMENTS, cases=cases,
        plans=plans, washout_days=float(washout_days) if design == CROSSOVER else 0.0, seed=seed,
        model=model, design=design, practice_cases=practice_cases,
    )  # fmt: skip


def protocol_bytes(protocol: Protocol) -> bytes:
    return (json.dumps(protocol.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")


def default_coordinator_dir(study_dir: str | Path) -> Path:
    """``STUDY.coordinator`` beside the study folder (move it where readers cannot reach)."""
    study_dir = Path(study_dir).absolute()
    return study_dir.parent / f"{study_dir.name}.coordinator"


def reader_log_key(study_key: bytes, study_id: str, reader: str) -> bytes:
    """Reader ``reader``'s first log key, derived from the study key (core.readerstudy.log)."""
    message = f"cnsight-log-key-v1\0{study_id}\0{reader}".encode()
    return hmac.new(study_key, message, hashlib.sha256).digest()


def token_path(study_dir: str | Path, reader: str) -> Path:
    return Path(study_dir) / "reads" / f"{reader}{TOKEN_SUFFIX}"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_protocol(protocol: Protocol, study_dir: Path, coordinator_dir: Path | None = None) -> Path:
    """Write STUDY/protocol.json; refuses to overwrite (logs are anchored on it). Schema 2 also
    writes the coordinator's folder (truth.json, study.key; default ``STUDY.coordinator``) and
    one single-use log token per reader in STUDY/reads/."""
    study_dir = Path(study_dir)
    path = study_dir / PROTOCOL_NAME
    if path.exists():
        raise ReaderStudyError(
            f"{path} exists: a study's protocol is never overwritten (its logs are anchored on it)"
        )
    coordinator = Path(coordinator_dir) if coordinator_dir else default_coordinator_dir(study_dir)
    if protocol.keyed and (coordinator / KEY_NAME).exists():
        raise ReaderStudyError(
            f"{coordinator / KEY_NAME} exists: another study's key is never replaced"
        )
    study_dir.mkdir(parents=True, exist_ok=True)
    (study_dir / "reads").mkdir(exist_ok=True)
    raw = protocol_bytes(protocol)
    if protocol.keyed:
        coordinator.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        _write_private(coordinator / KEY_NAME, key.hex().encode() + b"\n")
        truth = {
            "schema": SCHEMA,
            "study_id": protocol.study_id,
            "protocol_sha256": hashlib.sha256(raw).hexdigest(),
            "cases": [
                {"case_id": c.case_id, "patient_id": c.patient_id, "truth": c.truth, "images": list(c.source_keys)}
                for c in protocol.cases
            ],
            "practice_cases": [
                {"case_id": c.case_id, "patient_id": c.patient_id} for c in protocol.practice_cases
            ],
        }  # fmt: skip
        _write_private(coordinator / TRUTH_NAME, (json.dumps(truth, indent=2) + "\n").encode())
        for reader in protocol.readers:
            token = reader_log_key(key, protocol.study_id, reader)
            _write_private(token_path(study_dir, reader), token.hex().encode() + b"\n")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(raw)
    os.replace(tmp, path)
    return path


def _read_json(path: Path, what: str) -> tuple[dict, bytes]:
    try:
        if path.stat().st_size > MAX_PROTOCOL_BYTES:
            raise ReaderStudyError(f"{path}: larger than {MAX_PROTOCOL_BYTES} bytes: not a {what}")
        raw = path.read_bytes()
        d = json.loads(raw)
    except OSError as e:
        raise ReaderStudyError(f"{path}: cannot be read ({e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ReaderStudyError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ReaderStudyError(f"{path}: not a {what} (expected a JSON object)")
    return d, raw


def load_protocol(study_dir: str | Path) -> tuple[Protocol, str]:
    """The protocol as a reader's workstation has it (schema 2: no truth) and the sha256 of
    its file's bytes."""
    path = Path(study_dir) / PROTOCOL_NAME
    if not path.is_file():
        raise ReaderStudyError(f"{study_dir}: not a reader study (no {PROTOCOL_NAME})")
    d, raw = _read_json(path, "protocol")
    return Protocol.from_dict(d, str(path)), hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class CoordinatorView:
    """What only the coordinator has: the protocol with truth, and the study key."""

    protocol: Protocol
    protocol_sha256: str
    study_key: bytes | None  # None: a schema-1 study (its logs are not keyed)
    folder: Path | None


def load_coordinator(
    study_dir: str | Path, coordinator_dir: str | Path | None = None
) -> CoordinatorView:
    """The protocol with every case's truth, and the study key (schema 2: from the
    coordinator's folder, refused when it does not belong to this protocol)."""
    protocol, sha = load_protocol(study_dir)
    if not protocol.keyed:
        return CoordinatorView(protocol, sha, None, None)
    folder = Path(coordinator_dir) if coordinator_dir else default_coordinator_dir(study_dir)
    truth_path, key_path = folder / TRUTH_NAME, folder / KEY_NAME
    for f in (truth_path, key_path):
        if not f.is_file():
            raise ReaderStudyError(
                f"{f}: missing - the coordinator's folder of this study (truth labels and the "
                "study key) is needed here; name it with --coordinator DIR"
            )
    d, _ = _read_json(truth_path, "truth file")
    if d.get("study_id") != protocol.study_id or d.get("protocol_sha256") != sha:
        raise ReaderStudyError(
            f"{truth_path}: belongs to another study or protocol.json changed since the study "
            "was created (its sha256 differs); refusing"
        )
    try:
        truth = {str(c["case_id"]): (str(c["patient_id"]), str(c["truth"])) for c in d["cases"]}
        sources = {str(c["case_id"]): tuple(map(str, c.get("images", ()))) for c in d["cases"]}
        key = bytes.fromhex(key_path.read_text(encoding="ascii").strip())
    except (KeyError, TypeError, ValueError, OSError, UnicodeDecodeError) as e:
        raise ReaderStudyError(f"{folder}: unreadable truth or key file ({e!r})") from None
    if len(key) != 32:
        raise ReaderStudyError(f"{key_path}: not a study key (expected 32 bytes in hex)")
    merged = protocol.with_truth(truth)
    cases = tuple(
        CaseSpec(c.case_id, c.patient_id, c.truth, c.image_keys, sources[c.case_id])
        for c in merged.cases
    )
    return CoordinatorView(Protocol(**{**merged.__dict__, "cases": cases}), sha, key, folder)
