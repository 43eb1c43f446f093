"""Everything ``cnsight-study analyze`` answers about a reader study, in one object:

- the MRMC analysis of the 0-100 rating (OR and DBM; in the sequential design the two
  "treatments" are the first, unaided, and the final, aided, read of each case);
- the class call (``classcall``), reading time (``reading_time``), the AI alone against the
  unaided readers (``standalone``), automation bias (``automation_bias``) and, in the
  sequential design, how often and how the final read changed the first;
- warnings when the design is too small for a result to mean much.

Each part runs only when the reads carry what it needs (``StudyReads``); what was skipped, and
why, is listed in ``skipped``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.mrmc.analysis import MrmcAnalysis, analyze
from core.mrmc.automation_bias import AutomationBias, automation_bias
from core.mrmc.case_or import MEAN
from core.mrmc.classcall import ClassCallAnalysis, class_call_analysis
from core.mrmc.fom import Fom
from core.mrmc.reading_time import ReadingTimeAnalysis, reading_time_analysis
from core.mrmc.standalone import StandaloneComparison, readers_vs_ai
from core.mrmc.study_reads import StudyReads

MIN_READERS = 3
MIN_CASES_PER_TRUTH = 10


@dataclass(frozen=True)
class SecondRead:
    """Sequential design: what the AI changed between the first and the final read."""

    changed: float  # share of final reads whose class or rating differs from the first
    class_changed: float  # share whose class differs
    corrected: int  # class wrong first, right in the final read
    spoiled: int  # class right first, wrong in the final read
    by_reader: dict[str, float]  # reader -> share changed

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StudyAnalysis:
    rating: MrmcAnalysis
    design: str
    class_call: ClassCallAnalysis | None = None
    reading_time: ReadingTimeAnalysis | None = None
    standalone: list[StandaloneComparison] = field(default_factory=list)
    automation_bias: list[AutomationBias] = field(default_factory=list)
    second_read: SecondRead | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """``analysis.json``: the rating analysis' keys as before, then the study's other
        answers."""
        return self.rating.to_json() | {
            "study_design": self.design or None,
            "class_call": self.class_call.to_json() if self.class_call else None,
            "reading_time": self.reading_time.to_json() if self.reading_time else None,
            "ai_standalone": [s.to_json() for s in self.standalone],
            "automation_bias": [b.to_json() for b in self.automation_bias],
            "second_read": self.second_read.to_json() if self.second_read else None,
            "warnings": self.warnings,
            "skipped": self.skipped,
        }


def _second_read(sr: StudyReads) -> SecondRead:
    u, a = sr.treatment("unaided"), sr.treatment("aided")
    calls, ratings = sr.class_call, sr.reads.ratings
    changed = (calls[a] != calls[u]) | (ratings[a] != ratings[u])
    right = calls == sr.truth_class[None, None, :]
    return SecondRead(
        changed=float(changed.mean()),
        class_changed=float((calls[a] != calls[u]).mean()),
        corrected=int((~right[u] & right[a]).sum()),
        spoiled=int((right[u] & ~right[a]).sum()),
        by_reader={r: float(changed[j].mean()) for j, r in enumerate(sr.reads.readers)},
    )


def design_warnings(sr: StudyReads, rating: MrmcAnalysis) -> list[str]:
    """What makes the analysis weak or its estimates partly clipped, in words for the report."""
    reads, out = sr.reads, list(sr.notes)
    n_r = len(reads.readers)
    if n_r < MIN_READERS:
        out.append(
            f"only {n_r} readers: with fewer than {MIN_READERS} the reader variance (and so every "
            "random-readers interval and p value) rests on almost nothing"
        )
    for what, n in (("abnormal", reads.n_positive), ("normal", reads.n_negative)):
        if n < MIN_CASES_PER_TRUTH:
            out.append(
                f"only {n} {what} cases: the case variance is poorly estimated below "
                f"{MIN_CASES_PER_TRUTH} of each truth"
            )
    comps = rating.obuchowski_rockette.variance_components
    if comps.var_r < 0:
        out.append(f"Var(R) is negative ({comps.var_r:.3g}): estimated as 0 where it enters a test")
    if comps.var_tr < 0:
        out.append(
            f"Var(T*R) is negative ({comps.var_tr:.3g}): clipped to 0 in the study-size formulas"
        )
    if comps.cov2 < comps.cov3:
        out.append(
            "Cov2 < Cov3: max(Cov2 - Cov3, 0) clips the between-reader error term to 0 (OR RRRC)"
        )
    if sr.design == "sequential":
        out.append(
            "sequential design: the final read always follows the first with the same case in "
            "mind, so first vs final measures the AI's added value as a second reader, not "
            "reading with the AI from the start (which a crossover measures)"
        )
    return out


def analyze_study(
    sr: StudyReads, fom: Fom | None = None, covariance: str = "jackknife", alpha: float = 0.05
) -> StudyAnalysis:
    reads = sr.reads
    rating = analyze(reads, fom, covariance, alpha)
    skipped: list[str] = []
    paired = {"unaided", "aided"} <= set(reads.treatments)
    has_class = sr.class_call is not None and sr.truth_class is not None
    class_call = class_call_analysis(sr, alpha) if has_class else None
    if not has_class:
        skipped.append("class call: the reads have no class_call / truth_class columns")
    reading_time = reading_time_analysis(sr, alpha) if sr.seconds is not None else None
    if sr.seconds is None:
        skipped.append("reading time: the reads have no seconds column")
    standalone = []
    if sr.ai_rating is not None and "unaided" in reads.treatments:
        u = sr.treatment("unaided")
        unaided = type(reads)(("unaided",), reads.readers, reads.cases, reads.truth, reads.ratings[u : u + 1])  # fmt: skip
        standalone.append(readers_vs_ai(unaided, sr.ai_rating, Fom("auc"), "auc", alpha))
        if has_class and sr.ai_class is not None:
            correct = (sr.class_call[u : u + 1] == sr.truth_class[None, None, :]).astype(float)
            scored = type(reads)(("unaided",), reads.readers, reads.cases, reads.truth, correct)
            ai_correct = (sr.ai_class == sr.truth_class).astype(float)
            standalone.append(readers_vs_ai(scored, ai_correct, MEAN, "class accuracy", alpha))
    else:
        skipped.append(
            "AI alone vs readers: the reads have no AI output (ai_rating / ai_class of the aided "
            "reads) or no unaided reads"
        )
    bias = automation_bias(sr, alpha) if paired else []
    if not bias:
        skipped.append("automation bias: needs unaided and aided reads and the AI output")
    second = _second_read(sr) if sr.design == "sequential" and paired and has_class else None
    warnings = design_warnings(sr, rating)
    if class_call is not None:
        few = [c for c in class_call.classes if 0 < int((sr.truth_class == c).sum()) < 2]
        if few:
            warnings.append(
                f"class(es) {', '.join(few)} have fewer than 2 cases: no interval for their "
                "sensitivity"
            )
    if len(reads.readers) == 2 and standalone:
        warnings.append("AI vs readers with 2 readers: the reader variance has 1 df")
    return StudyAnalysis(
        rating, sr.design, class_call, reading_time, standalone, bias, second, warnings, skipped
    )
