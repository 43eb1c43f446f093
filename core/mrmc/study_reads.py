"""The reads ``cnsight-study export`` writes, with everything beyond the 0-100 rating that the
study's other questions need: the class called, the truth class, the reading time, the AI
output an aided read showed, and (sequential design) whether the final read changed.

Each extra is optional: reads from another tool (e.g. the Van Dyke CSV: rating only) still get
the ROC analysis, and each analysis that lacks its columns says so in the report.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ReadsError
from core.mrmc.reads import Reads, read_reads_csv, reads_from_rows


@dataclass(frozen=True)
class StudyReads:
    """``reads`` (the rating, fully crossed) and the extras, indexed like ``reads.ratings``:
    (treatment, reader, case), or (case,) for what belongs to the case."""

    reads: Reads
    design: str  # crossover, sequential, or "" (not from cnsight-study export)
    class_call: np.ndarray | None = None  # (T, R, C) str
    truth_class: np.ndarray | None = None  # (C,) str
    seconds: np.ndarray | None = None  # (T, R, C) float
    ai_class: np.ndarray | None = None  # (C,) str: what the aided reads showed
    ai_rating: np.ndarray | None = None  # (C,) float
    notes: list[str] = field(default_factory=list)  # what was odd in the input (warnings)

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes that occur as truth or call, truth classes first (in order of first
        appearance among the cases sorted by id), then calls of other classes."""
        seen: dict[str, None] = {}
        for c in self.truth_class if self.truth_class is not None else ():
            seen.setdefault(str(c), None)
        for c in self.class_call.ravel() if self.class_call is not None else ():
            seen.setdefault(str(c), None)
        if self.ai_class is not None:
            for c in self.ai_class:
                seen.setdefault(str(c), None)
        return tuple(sorted(seen))

    def treatment(self, name: str) -> int:
        return self.reads.treatments.index(name)


def _column(rows, reads: Reads, name: str, kind=str):
    """(T, R, C) values of column ``name``, or None when any row lacks it."""
    if not rows or any(not str(r.get(name) or "").strip() for r in rows):
        return None
    index = {
        (str(r["treatment"]).strip(), str(r["reader"]).strip(), str(r["case"]).strip()): r
        for r in rows
    }
    out = np.empty(reads.ratings.shape, dtype=object if kind is str else np.float64)
    for i, t in enumerate(reads.treatments):
        for j, rd in enumerate(reads.readers):
            for k, c in enumerate(reads.cases):
                value = str(index[(t, rd, c)][name]).strip()
                if kind is str:
                    out[i, j, k] = value
                else:
                    try:
                        out[i, j, k] = float(value)
                    except ValueError:
                        raise ReadsError(f"column {name}: {value!r} is not a number") from None
                    if not math.isfinite(out[i, j, k]):
                        raise ReadsError(f"column {name}: {value!r} is not finite")
    return out


def _per_case(values: np.ndarray, case_ids, what: str, notes: list[str]) -> np.ndarray:
    """One value per case from (readers, C) values; the most common when they differ."""
    out = []
    differ = 0
    for k in range(values.shape[1]):
        counts = Counter(values[:, k].tolist())
        out.append(counts.most_common(1)[0][0])
        differ += len(counts) > 1
    if differ:
        notes.append(
            f"the {what} differed between readers on {differ} case(s) (the most common was used)"
        )
    return np.array(out, dtype=values.dtype)


def study_reads_from_rows(rows: list[dict], source: str = "reads") -> StudyReads:
    reads = reads_from_rows(rows, source)
    notes: list[str] = []
    designs = {str(r.get("design") or "").strip() for r in rows}
    design = designs.pop() if len(designs) == 1 else ""
    class_call = _column(rows, reads, "class_call")
    truth_class = _column(rows, reads, "truth_class")
    if truth_class is not None:
        truth_class = _per_case(truth_class.reshape(-1, truth_class.shape[2]), reads.cases, "truth class", notes)  # fmt: skip
    seconds = _column(rows, reads, "seconds", float)
    ai_class = ai_rating = None
    aided = [i for i, t in enumerate(reads.treatments) if t == "aided"]
    if aided:
        only = [r for r in rows if str(r.get("treatment")).strip() == "aided"]
        a_class = _column(only, _subset(reads, aided), "ai_class")
        a_rating = _column(only, _subset(reads, aided), "ai_rating", float)
        if a_class is not None and a_rating is not None:
            ai_class = _per_case(a_class[0], reads.cases, "AI class shown", notes)
            ai_rating = _per_case(a_rating[0], reads.cases, "AI rating shown", notes)
    return StudyReads(reads, design, class_call, truth_class, seconds, ai_class, ai_rating, notes)


def _subset(reads: Reads, treatments: list[int]) -> Reads:
    return Reads(
        tuple(reads.treatments[i] for i in treatments),
        reads.readers,
        reads.cases,
        reads.truth,
        reads.ratings[treatments],
    )


def load_study_reads(path: str | Path) -> StudyReads:
    """Read an exported reads CSV (columns reader,treatment,case,truth,rating required; the
    others used when present)."""
    return read_reads_csv(path, study_reads_from_rows)
