"""The study protocol: cases (anonymous ids, truth, images), readers, treatments, reading order,
washout, and the model the aided reads use. Written once by the coordinator; its sha256 anchors
every reader's log, so editing it afterwards is detected."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ReaderStudyError

PROTOCOL_NAME = "protocol.json"
SCHEMA = 1
UNAIDED, AIDED = "unaided", "aided"
TREATMENTS = (UNAIDED, AIDED)
_READER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class CaseSpec:
    """One case as readers and exports see it: an anonymous id, never the patient's name."""

    case_id: str
    patient_id: str  # in the data, for the coordinator (not shown in reading mode or exports)
    truth: str  # class name
    image_keys: tuple[str, ...]  # the images found when the study was created


@dataclass(frozen=True)
class Block:
    """One treatment's cases for one reader, in reading order."""

    treatment: str
    case_ids: tuple[str, ...]


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
    model: dict | None  # {"path": ..., "weights_sha256": ...} for aided reads
    rating: str = "confidence that the case is abnormal, 0 (surely normal) to 100 (surely abnormal)"

    def case(self, case_id: str) -> CaseSpec:
        for c in self.cases:
            if c.case_id == case_id:
                return c
        raise ReaderStudyError(f"case {case_id!r} is not in this study")

    def plan(self, reader: str) -> tuple[Block, ...]:
        if reader not in self.plans:
            raise ReaderStudyError(
                f"reader {reader!r} is not enrolled in this study ({', '.join(self.readers)})"
            )
        return self.plans[reader]

    def data_path(self, study_dir: Path) -> Path:
        path = Path(self.data)
        return path if path.is_absolute() else (Path(study_dir) / path).resolve()

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
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
                {
                    "case_id": c.case_id,
                    "patient_id": c.patient_id,
                    "truth": c.truth,
                    "images": list(c.image_keys),
                }
                for c in self.cases
            ],
            "plans": {
                r: [{"treatment": b.treatment, "cases": list(b.case_ids)} for b in blocks]
                for r, blocks in self.plans.items()
            },
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = PROTOCOL_NAME) -> Protocol:
        if d.get("schema") != SCHEMA:
            raise ReaderStudyError(
                f"{source}: unknown protocol schema {d.get('schema')!r} (this CNSight reads {SCHEMA})"
            )
        try:
            cases = tuple(
                CaseSpec(c["case_id"], c["patient_id"], c["truth"], tuple(c["images"]))
                for c in d["cases"]
            )
            plans = {
                r: tuple(Block(b["treatment"], tuple(b["cases"])) for b in blocks)
                for r, blocks in d["plans"].items()
            }
            return cls(
                study_id=d["study_id"], title=d.get("title", ""), created=d["created"], data=d["data"],
                class_names=tuple(d["class_names"]), normal_class=d["normal_class"], readers=tuple(d["readers"]),
                treatments=tuple(d["treatments"]), cases=cases, plans=plans, washout_days=float(d["washout_days"]),
                seed=int(d["seed"]), model=d.get("model"), rating=d.get("rating", cls.rating),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise ReaderStudyError(f"{source}: not a valid protocol ({e!r})") from None


def _plans(readers, case_ids, treatments, seed: int) -> dict[str, tuple[Block, ...]]:
    """Counterbalanced: even-numbered readers read the treatments in the given order, odd ones
    in reverse; each block in its own random order (seeded by study seed, reader, block)."""
    plans = {}
    for i, reader in enumerate(readers):
        order = list(treatments) if i % 2 == 0 else list(reversed(treatments))
        blocks = []
        for j, treatment in enumerate(order):
            perm = np.random.default_rng([seed, i, j]).permutation(len(case_ids))
            blocks.append(Block(treatment, tuple(case_ids[k] for k in perm)))
        plans[reader] = tuple(blocks)
    return plans


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
) -> Protocol:
    """A protocol over ``patients`` (each becomes one case) for ``readers``, unaided and aided."""
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
    if len(patients) < 2:
        raise ReaderStudyError("need at least 2 cases")
    width = max(3, len(str(len(patients))))
    cases = tuple(
        CaseSpec(f"C{i + 1:0{width}d}", p.patient_id, p.label, tuple(r.key for r in p.images))
        for i, p in enumerate(sorted(patients, key=lambda p: p.patient_id))
    )
    ids = [c.case_id for c in cases]
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    study_id = hashlib.sha256(f"{created}{data}{readers}{seed}{os.getpid()}".encode()).hexdigest()[
        :12
    ]
    return Protocol(
        study_id=study_id, title=title, created=created, data=data, class_names=tuple(class_names),
        normal_class=normal_class, readers=tuple(readers), treatments=TREATMENTS, cases=cases,
        plans=_plans(readers, ids, TREATMENTS, seed), washout_days=float(washout_days), seed=seed, model=model,
    )  # fmt: skip


def protocol_bytes(protocol: Protocol) -> bytes:
    return (json.dumps(protocol.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")


def save_protocol(protocol: Protocol, study_dir: Path) -> Path:
    """Write STUDY/protocol.json; refuses to overwrite (logs are anchored on it)."""
    study_dir = Path(study_dir)
    path = study_dir / PROTOCOL_NAME
    if path.exists():
        raise ReaderStudyError(
            f"{path} exists: a study's protocol is never overwritten (its logs are anchored on it)"
        )
    study_dir.mkdir(parents=True, exist_ok=True)
    (study_dir / "reads").mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(protocol_bytes(protocol))
    os.replace(tmp, path)
    return path


def load_protocol(study_dir: str | Path) -> tuple[Protocol, str]:
    """The protocol and the sha256 of its file's bytes."""
    path = Path(study_dir) / PROTOCOL_NAME
    if not path.is_file():
        raise ReaderStudyError(f"{study_dir}: not a reader study (no {PROTOCOL_NAME})")
    raw = path.read_bytes()
    try:
        d = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReaderStudyError(f"{path}: not valid JSON ({e})") from None
    return Protocol.from_dict(d, str(path)), hashlib.sha256(raw).hexdigest()
