"""Automation bias: does a wrong AI mislead the readers?

On the cases where the AI's class was wrong (its class call is not the truth): the readers'
class accuracy unaided and aided (mean over readers, with the OR interval of the difference
when there are enough such cases), and how often an aided read called exactly the AI's wrong
class ("followed"). The same unaided reads show how often readers would have made that wrong
call anyway, so "followed" is read against "agreed unaided". In the sequential design the
final read follows the first: "switched" counts the final reads that took the AI's wrong class
after a first read that had not. The binary version (the AI's 0-100 rating >= 50 = abnormal,
wrong against the truth) is reported the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.mrmc.case_or import or_of_scores, score_reads
from core.mrmc.study_reads import StudyReads

MIN_CASES_FOR_CI = 3


@dataclass(frozen=True)
class AutomationBias:
    kind: str  # "class" or "abnormal (rating >= 50)"
    ai_wrong_cases: int
    cases: int
    accuracy_unaided: float | None  # readers' mean accuracy on the AI-wrong cases
    accuracy_aided: float | None
    difference_ci: tuple[float, float] | None  # aided - unaided, OR RRRC; None: too few cases
    followed_aided: float | None  # share of aided reads on those cases that made the AI's call
    agreed_unaided: float | None  # share of unaided reads that made the same wrong call
    switched: float | None  # sequential: share of final reads that switched to the AI's call
    by_reader: dict[str, dict[str, float]]  # reader -> {accuracy_unaided, accuracy_aided, followed}

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "ai_wrong_cases": self.ai_wrong_cases,
            "cases": self.cases,
            "accuracy_unaided": self.accuracy_unaided,
            "accuracy_aided": self.accuracy_aided,
            "difference_aided_minus_unaided_ci": list(self.difference_ci) if self.difference_ci else None,
            "followed_wrong_ai_aided": self.followed_aided,
            "same_wrong_call_unaided": self.agreed_unaided,
            "switched_to_wrong_ai": self.switched,
            "by_reader": self.by_reader,
        }  # fmt: skip


def _bias(sr: StudyReads, calls, truth, ai_calls, kind: str, alpha: float) -> AutomationBias:
    reads = sr.reads
    u, a = sr.treatment("unaided"), sr.treatment("aided")
    wrong = ai_calls != truth
    n = int(wrong.sum())
    correct = (calls == truth[None, None, :]).astype(float)
    follows = (calls == ai_calls[None, None, :]).astype(float)
    if n == 0:
        return AutomationBias(kind, 0, len(truth), None, None, None, None, None, None, {})
    acc_u = float(correct[u][:, wrong].mean())
    acc_a = float(correct[a][:, wrong].mean())
    ci = None
    if n >= MIN_CASES_FOR_CI:
        sub = score_reads(reads, correct, wrong)
        pair = or_of_scores(sub, alpha).rrrc.differences[0]
        low, high = pair.test.ci
        sign = 1.0 if pair.treatments == ("aided", "unaided") else -1.0
        ci = tuple(sorted((sign * low, sign * high)))
    switched = None
    if sr.design == "sequential":
        took = (follows[a][:, wrong] == 1) & (follows[u][:, wrong] == 0)
        switched = float(took.mean())
    by_reader = {
        r: {
            "accuracy_unaided": float(correct[u, j, wrong].mean()),
            "accuracy_aided": float(correct[a, j, wrong].mean()),
            "followed": float(follows[a, j, wrong].mean()),
        }
        for j, r in enumerate(reads.readers)
    }
    return AutomationBias(
        kind, n, len(truth), acc_u, acc_a, ci, float(follows[a][:, wrong].mean()),
        float(follows[u][:, wrong].mean()), switched, by_reader,
    )  # fmt: skip


def automation_bias(sr: StudyReads, alpha: float = 0.05) -> list[AutomationBias]:
    """Needs unaided and aided reads and the AI output; the class version also the class calls."""
    out = []
    if sr.class_call is not None and sr.truth_class is not None and sr.ai_class is not None:
        out.append(_bias(sr, sr.class_call, sr.truth_class, sr.ai_class, "class", alpha))
    if sr.ai_rating is not None:
        calls = sr.reads.ratings >= 50
        out.append(
            _bias(sr, calls, sr.reads.truth, sr.ai_rating >= 50, "abnormal (rating >= 50)", alpha)
        )
    return out
