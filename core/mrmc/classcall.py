"""The class call: does the AI improve the 5-class diagnosis, not only "abnormal or not"?

- Accuracy (share of cases whose called class is the truth) per reader and treatment, and the
  treatment means compared by Obuchowski-Rockette with accuracy as the figure of merit
  (jackknife over cases, Hillis df): intervals that account for readers and cases.
- Per class, one-vs-rest sensitivity (cases of the class called that class) and specificity
  (cases of other classes not called that class), mean over readers, each with its OR (RRRC)
  interval (jackknifed over the class's cases / the others' cases, as MRMCaov does for binary
  sensitivity and specificity); no interval when fewer than 2 cases are on either side.
- Cohen's kappa of each reader's calls with the truth (scikit-learn), unweighted: the classes
  are not ordered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from core.mrmc.case_or import or_of_scores, score_reads
from core.mrmc.fom import Fom
from core.mrmc.or_results import ORAnalysis
from core.mrmc.reads import Reads
from core.mrmc.study_reads import StudyReads


@dataclass(frozen=True)
class ClassRates:
    """One class's one-vs-rest sensitivity and specificity in one treatment."""

    cases: int  # cases of this class
    sensitivity: float | None  # mean over readers; None without a case of the class
    sensitivity_ci: tuple[float, float] | None
    specificity: float | None
    specificity_ci: tuple[float, float] | None

    def to_json(self) -> dict:
        return {
            "cases": self.cases,
            "sensitivity": self.sensitivity,
            "sensitivity_ci": list(self.sensitivity_ci) if self.sensitivity_ci else None,
            "specificity": self.specificity,
            "specificity_ci": list(self.specificity_ci) if self.specificity_ci else None,
        }


@dataclass(frozen=True)
class ClassCallAnalysis:
    classes: tuple[str, ...]
    accuracy: dict[str, dict[str, float]]  # treatment -> reader -> accuracy
    accuracy_or: ORAnalysis
    kappa: dict[str, dict[str, float]]  # treatment -> reader -> Cohen's kappa with the truth
    per_class: dict[str, dict[str, ClassRates]]  # treatment -> class -> rates
    confusion: dict[str, list[list[int]]]  # treatment -> truth row x call column, all readers

    def mean_accuracy(self, treatment: str) -> float:
        return float(np.mean(list(self.accuracy[treatment].values())))

    def mean_kappa(self, treatment: str) -> float:
        return float(np.mean(list(self.kappa[treatment].values())))

    def to_json(self) -> dict:
        return {
            "classes": list(self.classes),
            "accuracy": self.accuracy,
            "mean_accuracy": {t: self.mean_accuracy(t) for t in self.accuracy},
            "accuracy_obuchowski_rockette": self.accuracy_or.to_json(),
            "kappa": self.kappa,
            "mean_kappa": {t: self.mean_kappa(t) for t in self.kappa},
            "per_class": {
                t: {c: r.to_json() for c, r in rates.items()} for t, rates in self.per_class.items()
            },
            "confusion": {"rows": "truth", "columns": "call", "labels": list(self.classes)}
            | {"counts": self.confusion},
        }


def _rrrc_ci(reads: Reads, fom: Fom, alpha: float) -> dict[str, tuple[float, float]]:
    analysis = or_of_scores(reads, alpha, fom=fom)
    return {t: analysis.rrrc.treatments[t].test.ci for t in reads.treatments}


def _class_rates(sr: StudyReads, name: str, alpha: float) -> dict[str, ClassRates]:
    reads, calls, truth = sr.reads, sr.class_call, sr.truth_class
    is_class = truth == name
    called = (calls == name).astype(float)
    one_vs_rest = Reads(reads.treatments, reads.readers, reads.cases, is_class, called)
    n_pos, n_neg = int(is_class.sum()), int((~is_class).sum())
    sens_ci = spec_ci = {}
    if n_pos >= 2 and n_neg >= 2:
        sens_ci = _rrrc_ci(one_vs_rest, Fom("sensitivity", 0.5), alpha)
        spec_ci = _rrrc_ci(one_vs_rest, Fom("specificity", 0.5), alpha)
    out = {}
    for i, t in enumerate(reads.treatments):
        sens = float(called[i][:, is_class].mean()) if n_pos else None
        spec = float(1 - called[i][:, ~is_class].mean()) if n_neg else None
        out[t] = ClassRates(n_pos, sens, sens_ci.get(t), spec, spec_ci.get(t))
    return out


def class_call_analysis(sr: StudyReads, alpha: float = 0.05) -> ClassCallAnalysis:
    """Needs ``class_call`` and ``truth_class`` (cnsight-study export writes both)."""
    reads, calls, truth = sr.reads, sr.class_call, sr.truth_class
    classes = sr.classes
    correct = (calls == truth[None, None, :]).astype(float)
    names_t, names_r = reads.treatments, reads.readers
    accuracy = {
        t: {r: float(correct[i, j].mean()) for j, r in enumerate(names_r)}
        for i, t in enumerate(names_t)
    }
    kappa = {
        t: {
            r: float(cohen_kappa_score(truth.tolist(), calls[i, j].tolist(), labels=list(classes)))
            for j, r in enumerate(names_r)
        }
        for i, t in enumerate(names_t)
    }
    by_class = {c: _class_rates(sr, c, alpha) for c in classes if (truth == c).any()}
    per_class = {t: {c: by_class[c][t] for c in by_class} for t in names_t}
    confusion = {
        t: confusion_matrix(
            np.tile(truth, len(names_r)).tolist(), calls[i].ravel().tolist(), labels=list(classes)
        ).tolist()
        for i, t in enumerate(names_t)
    }
    return ClassCallAnalysis(
        classes=classes,
        accuracy=accuracy,
        accuracy_or=or_of_scores(score_reads(reads, correct), alpha),
        kappa=kappa,
        per_class=per_class,
        confusion=confusion,
    )
