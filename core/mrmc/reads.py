"""Long-format reads (``reader,treatment,case,truth,rating``, the layout MRMCaov reads) -> a
fully crossed ratings array, with every way the input can be wrong named."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from core.errors import ReadsError

T = TypeVar("T")

COLUMNS: tuple[str, ...] = ("reader", "treatment", "case", "truth", "rating")
_POSITIVE = {"1", "1.0", "true", "yes", "abnormal", "positive"}
_NEGATIVE = {"0", "0.0", "false", "no", "normal", "negative"}


@dataclass(frozen=True)
class StudyDesign:
    """What was read: treatments, readers and cases (a fully crossed design)."""

    treatments: tuple[str, ...]
    readers: tuple[str, ...]
    cases: int
    positive_cases: int
    negative_cases: int
    reads: int  # treatments x readers x cases

    def to_json(self) -> dict:
        return {
            "treatments": list(self.treatments),
            "readers": list(self.readers),
            "cases": self.cases,
            "positive_cases": self.positive_cases,
            "negative_cases": self.negative_cases,
            "reads": self.reads,
        }


@dataclass(frozen=True)
class Reads:
    """Ratings of every case by every reader in every treatment (a fully crossed design)."""

    treatments: tuple[str, ...]
    readers: tuple[str, ...]
    cases: tuple[str, ...]
    truth: np.ndarray  # (C,) bool, True = abnormal (positive) case
    ratings: np.ndarray  # (T, R, C) float; higher = more confident the case is abnormal

    @property
    def n_positive(self) -> int:
        return int(self.truth.sum())

    @property
    def n_negative(self) -> int:
        return int((~self.truth).sum())

    def design(self) -> StudyDesign:
        return StudyDesign(
            treatments=self.treatments,
            readers=self.readers,
            cases=len(self.cases),
            positive_cases=self.n_positive,
            negative_cases=self.n_negative,
            reads=int(self.ratings.size),
        )


def _truth(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in _POSITIVE:
        return True
    if text in _NEGATIVE:
        return False
    raise ReadsError(f"{where}: truth must be 0 (normal) or 1 (abnormal), got {value!r}")


def _rating(value: str, where: str) -> float:
    try:
        rating = float(value)
    except ValueError:
        raise ReadsError(f"{where}: rating must be a number, got {value!r}") from None
    if not math.isfinite(rating):
        raise ReadsError(f"{where}: rating must be finite, got {value!r}")
    return rating


def _sorted_ids(ids: Iterable[str]) -> tuple[str, ...]:
    """Numeric ids in numeric order (reader 10 after reader 9), others as text."""
    ids = set(ids)
    try:
        return tuple(sorted(ids, key=lambda s: (float(s), s)))
    except ValueError:
        return tuple(sorted(ids))


def reads_from_rows(rows: Iterable[Mapping[str, str]], source: str = "reads") -> Reads:
    """Validate long-format rows and arrange them as a (treatment, reader, case) array."""
    rating_of: dict[tuple[str, str, str], float] = {}
    truth_of: dict[str, bool] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"{source} line {line}"
        missing = [c for c in COLUMNS if not str(row.get(c) or "").strip()]
        if missing:
            raise ReadsError(f"{where}: empty or missing {', '.join(missing)}")
        t, r, c = (str(row[k]).strip() for k in ("treatment", "reader", "case"))
        truth = _truth(str(row["truth"]), where)
        if truth_of.setdefault(c, truth) != truth:
            raise ReadsError(
                f"{where}: case {c} has truth {int(truth)} here and {int(not truth)} before"
            )
        if (t, r, c) in rating_of:
            raise ReadsError(f"{where}: reader {r} rated case {c} twice in treatment {t}")
        rating_of[(t, r, c)] = _rating(str(row["rating"]), where)
    if not rating_of:
        raise ReadsError(f"{source}: no reads")
    treatments = _sorted_ids(k[0] for k in rating_of)
    readers = _sorted_ids(k[1] for k in rating_of)
    cases = _sorted_ids(truth_of)
    _check_design(treatments, readers, cases, truth_of, rating_of, source)
    ratings = np.array(
        [[[rating_of[(t, r, c)] for c in cases] for r in readers] for t in treatments],
        dtype=np.float64,
    )
    truth = np.array([truth_of[c] for c in cases], dtype=bool)
    return Reads(treatments, readers, cases, truth, ratings)


def _check_design(treatments, readers, cases, truth_of, rating_of, source: str) -> None:
    if len(treatments) < 2:
        raise ReadsError(
            f"{source}: need at least 2 treatments (e.g. without and with AI), got {len(treatments)}"
        )
    if len(readers) < 2:
        raise ReadsError(
            f"{source}: need at least 2 readers for a reader-variability analysis, got {len(readers)}"
        )
    positives = sum(truth_of.values())
    if positives < 2 or len(cases) - positives < 2:
        raise ReadsError(
            f"{source}: need at least 2 abnormal and 2 normal cases, got {positives} and "
            f"{len(cases) - positives}"
        )
    expected = len(treatments) * len(readers) * len(cases)
    if len(rating_of) != expected:
        gaps = [
            f"reader {r} / treatment {t} / case {c}"
            for t in treatments
            for r in readers
            for c in cases
            if (t, r, c) not in rating_of
        ]
        raise ReadsError(
            f"{source}: the design is not fully crossed - {len(gaps)} of {expected} reads are "
            f"missing (every reader must rate every case in every treatment), e.g. "
            + "; ".join(gaps[:3])
        )


def read_reads_csv(path: str | Path, parse: Callable[..., T]) -> T:
    """``parse(rows, source=...)`` of a long-format reads CSV whose header has at least
    ``COLUMNS`` (names lower-cased and stripped; a UTF-8 BOM is fine), or ReadsError saying
    why the file cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ReadsError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ReadsError(
                    f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
                )
            reader.fieldnames = header
            return parse(list(reader), source=str(path))
    except UnicodeDecodeError:
        raise ReadsError(f"{path}: not a UTF-8 text CSV") from None
    except csv.Error as e:
        raise ReadsError(f"{path}: not a readable CSV ({e})") from None


def load_reads(path: str | Path) -> Reads:
    """Read a long-format CSV with columns reader,treatment,case,truth,rating (others ignored)."""
    return read_reads_csv(path, reads_from_rows)
