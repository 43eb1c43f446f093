"""Reading time: is reading with the AI faster?

Per treatment: the median time per read (all readers' reads pooled) and each reader's median.
The paired comparison is Obuchowski-Rockette with the mean **log** time as the figure of merit:

- log, because reading times are right-skewed (a few long reads dominate a mean of seconds) and
  AI is expected to change them by a factor, not by a fixed number of seconds: the difference of
  mean logs is the log of the ratio of geometric-mean times, reported as that ratio with its CI;
- OR rather than a per-reader paired t test, because the same cases are read by every reader in
  both treatments: case difficulty makes reads of one case correlated across readers, which a
  t test over readers ignores (its interval would be too narrow for new cases); OR with the
  jackknife over cases treats readers and cases as random, like the ROC analysis.

Times under 0.1 s are taken as 0.1 s (a log needs a positive time; no real read is that fast).
In the sequential design the aided time is the whole time to the final decision: the first
(unaided) read plus the final read, since reading with the AI meant both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.mrmc.case_or import or_of_scores, score_reads
from core.mrmc.or_results import ORAnalysis
from core.mrmc.study_reads import StudyReads

MIN_SECONDS = 0.1


@dataclass(frozen=True)
class ReadingTimeAnalysis:
    median: dict[str, float]  # treatment -> median seconds per read, all reads
    median_by_reader: dict[str, dict[str, float]]  # treatment -> reader -> median seconds
    log_or: ORAnalysis  # OR of the mean natural-log time
    #: (treatment a, treatment b) -> geometric-mean time ratio a / b and its RRRC CI
    ratios: dict[tuple[str, str], tuple[float, tuple[float, float], float | None]]
    sequential_total: bool  # aided = first + final read (sequential design)

    def to_json(self) -> dict:
        return {
            "median_seconds": self.median,
            "median_seconds_by_reader": self.median_by_reader,
            "sequential_aided_is_first_plus_final": self.sequential_total,
            "geometric_mean_ratio": [
                {"treatments": list(k), "ratio": r, "ci": list(ci), "p": p}
                for k, (r, ci, p) in self.ratios.items()
            ],
            "log_seconds_obuchowski_rockette": self.log_or.to_json(),
        }


def reading_time_analysis(sr: StudyReads, alpha: float = 0.05) -> ReadingTimeAnalysis:
    reads = sr.reads
    seconds = np.maximum(sr.seconds.astype(float), MIN_SECONDS)
    sequential = sr.design == "sequential" and set(reads.treatments) == {"unaided", "aided"}
    if sequential:
        seconds = seconds.copy()
        seconds[sr.treatment("aided")] += seconds[sr.treatment("unaided")]
    median = {t: float(np.median(seconds[i])) for i, t in enumerate(reads.treatments)}
    by_reader = {
        t: {r: float(np.median(seconds[i, j])) for j, r in enumerate(reads.readers)}
        for i, t in enumerate(reads.treatments)
    }
    log_or = or_of_scores(score_reads(reads, np.log(seconds)), alpha, bounded=False)
    ratios = {}
    for d in log_or.rrrc.differences:
        low, high = d.test.ci
        ratios[d.treatments] = (
            math.exp(d.test.estimate),
            (math.exp(low), math.exp(high)),
            d.test.p,
        )
    return ReadingTimeAnalysis(median, by_reader, log_or, ratios, sequential)
