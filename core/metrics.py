"""Classification metrics for images and patients, returned as plain JSON-ready dicts.

Conventions (the same in ``cnsight-eval``, the training logs and the model card):

- ``y_true`` holds class indices, ``probs`` is N x K (rows sum to 1), prediction = argmax.
- Per class, one-vs-rest: sensitivity TP/(TP+FN), specificity TN/(TN+FP), PPV TP/(TP+FP),
  NPV TN/(TN+FN), AUROC of that class's probability. A ratio whose denominator is zero is
  ``None`` (e.g. no true cases of the class), never a made-up 0 or 1.
- ``auroc_macro`` is the mean AUROC over the classes that are present in the truth AND not
  the only class present; absent classes are listed in ``auroc_classes_absent`` so a reader
  knows the macro average covers fewer classes than the model has.
- 95 % confidence intervals come from a percentile bootstrap that resamples PATIENTS (all
  images of a drawn patient go in together), because images of one patient are not
  independent. Seeded, so a report is reproducible.
- Calibration is top-label: confidence = highest probability, ECE = sum over equal-width
  bins of |accuracy - confidence| weighted by the bin's share of cases.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, roc_auc_score

GA_BINS = ("<20", "20-27", ">=28")


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den > 0 else None


def _check(y_true, probs) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or y.ndim != 1 or len(y) != len(p):
        raise ValueError(f"need y_true (N,) and probs (N, K); got {y.shape} and {p.shape}")
    if len(y) and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError("y_true holds a class index outside 0..K-1")
    return y, p


def class_auroc(y_true: np.ndarray, probs: np.ndarray, k: int) -> float | None:
    """One-vs-rest AUROC of class ``k``; None when the truth lacks positives or negatives."""
    positives = y_true == k
    if positives.all() or not positives.any():
        return None
    return float(roc_auc_score(positives, probs[:, k]))


def macro_auroc(y_true, probs) -> tuple[float | None, list[int]]:
    """Mean one-vs-rest AUROC over the classes that can be scored, and the classes left out."""
    y, p = _check(y_true, probs)
    return _macro([class_auroc(y, p, k) for k in range(p.shape[1])])


def _macro(scores: Sequence[float | None]) -> tuple[float | None, list[int]]:
    present = [s for s in scores if s is not None]
    absent = [k for k, s in enumerate(scores) if s is None]
    return (float(np.mean(present)) if present else None), absent


def per_class_stats(y_true, probs, class_names: Sequence[str]) -> dict[str, dict]:
    """Sensitivity, specificity, PPV, NPV, AUROC and support of every class (one-vs-rest)."""
    y, p = _check(y_true, probs)
    cm = confusion_matrix(y, p.argmax(axis=1), labels=list(range(len(class_names))))
    total = cm.sum()
    stats = {}
    for k, name in enumerate(class_names):
        tp = cm[k, k]
        fn = cm[k].sum() - tp
        fp = cm[:, k].sum() - tp
        tn = total - tp - fn - fp
        stats[name] = {
            "sensitivity": _ratio(tp, tp + fn),
            "specificity": _ratio(tn, tn + fp),
            "ppv": _ratio(tp, tp + fp),
            "npv": _ratio(tn, tn + fn),
            "auroc": class_auroc(y, p, k),
            "support": int(tp + fn),
        }
    return stats


def classification_metrics(y_true, probs, class_names: Sequence[str]) -> dict:
    """Accuracy, macro AUROC, per-class statistics and the confusion matrix (rows = truth)."""
    y, p = _check(y_true, probs)
    names = list(class_names)
    per_class = per_class_stats(y, p, names)
    auroc, absent = _macro([per_class[name]["auroc"] for name in names])
    return {
        "n": int(len(y)),
        "accuracy": float((p.argmax(axis=1) == y).mean()) if len(y) else None,
        "auroc_macro": auroc,
        "auroc_classes_absent": [names[k] for k in absent],
        "per_class": per_class,
        "confusion": confusion_matrix(y, p.argmax(axis=1), labels=list(range(len(names)))).tolist(),
        "confusion_axes": "rows = truth, columns = prediction, in class_names order",
        "class_names": names,
    }


def _summary_values(y: np.ndarray, p: np.ndarray, class_names: Sequence[str]) -> dict[str, float]:
    """The statistics that get confidence intervals, flattened ("per_class.<name>.<stat>")."""
    per_class = per_class_stats(y, p, class_names)
    auroc, _ = _macro([per_class[name]["auroc"] for name in class_names])
    values = {"accuracy": float((p.argmax(axis=1) == y).mean())}
    values["auroc_macro"] = math.nan if auroc is None else auroc
    for name, stats in per_class.items():
        for stat in ("sensitivity", "specificity", "ppv", "npv", "auroc"):
            v = stats[stat]
            values[f"per_class.{name}.{stat}"] = math.nan if v is None else v
    return values


def _nest(flat: dict[str, dict]) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def bootstrap_ci(
    y_true,
    probs,
    patient_ids: Sequence[str],
    class_names: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile CIs of accuracy, macro AUROC and per-class statistics, resampling patients.

    Each replicate draws as many patients as there are, with replacement, and takes all rows
    of each drawn patient (for patient-level metrics a patient is one row). A statistic that
    is undefined in a replicate (e.g. no positives drawn) is skipped for that replicate;
    ``n_valid`` says how many replicates defined it.
    """
    y, p = _check(y_true, probs)
    ids = np.asarray([str(i) for i in patient_ids])
    if len(ids) != len(y):
        raise ValueError("one patient id per row is required")
    unique, inverse = np.unique(ids, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == i) for i in range(len(unique))]
    rng = np.random.default_rng(seed)
    replicates: list[dict[str, float]] = []
    for _ in range(n_boot):
        drawn = rng.integers(0, len(unique), size=len(unique))
        rows = np.concatenate([rows_of[i] for i in drawn])
        replicates.append(_summary_values(y[rows], p[rows], class_names))
    alpha = (1 - level) / 2
    flat = {}
    for key in replicates[0] if replicates else ():
        vals = np.array([r[key] for r in replicates])
        vals = vals[~np.isnan(vals)]
        lo, hi = np.quantile(vals, [alpha, 1 - alpha]) if len(vals) else (None, None)
        flat[key] = {
            "low": _float_or_none(lo),
            "high": _float_or_none(hi),
            "n_valid": int(len(vals)),
        }
    ci = _nest(flat)
    ci.update({"level": level, "n_boot": n_boot, "seed": seed, "resampled": "patients"})
    return ci


def _float_or_none(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def calibration(y_true, probs, n_bins: int = 10) -> dict:
    """Top-label expected calibration error, reliability bins, negative log-likelihood, Brier."""
    y, p = _check(y_true, probs)
    if not len(y):
        return {"ece": None, "n_bins": n_bins, "bins": [], "nll": None, "brier": None}
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin i holds (edges[i], edges[i+1]]; confidence 0 cannot occur for a top label.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    bins, ece = [], 0.0
    for i in range(n_bins):
        in_bin = which == i
        count = int(in_bin.sum())
        conf = float(confidence[in_bin].mean()) if count else None
        acc = float(correct[in_bin].mean()) if count else None
        if count:
            ece += abs(acc - conf) * count / len(y)
        bins.append(
            {
                "lower": float(edges[i]),
                "upper": float(edges[i + 1]),
                "count": count,
                "confidence": conf,
                "accuracy": acc,
            }
        )
    onehot = np.eye(p.shape[1])[y]
    return {
        "ece": float(ece),
        "n_bins": n_bins,
        "bins": bins,
        "nll": float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean()),
        "brier": float(((p - onehot) ** 2).sum(axis=1).mean()),
    }


def ga_bin(ga_weeks: float | None) -> str:
    """Gestational-age bin: ``<20``, ``20-27`` (20 <= GA < 28) or ``>=28`` weeks; else unknown."""
    if ga_weeks is None or not np.isfinite(ga_weeks):
        return "unknown"
    if ga_weeks < 20:
        return "<20"
    return "20-27" if ga_weeks < 28 else ">=28"


def subgroup_metrics(
    y_true, probs, groups: Sequence[str | None], class_names: Sequence[str]
) -> dict:
    """Accuracy, macro AUROC and per-class sensitivity within each group value (sorted)."""
    y, p = _check(y_true, probs)
    keys = np.asarray(["unknown" if g is None else str(g) for g in groups])
    out = {}
    for key in sorted(set(keys.tolist())):
        rows = keys == key
        m = classification_metrics(y[rows], p[rows], class_names)
        out[key] = {
            "n": m["n"],
            "accuracy": m["accuracy"],
            "auroc_macro": m["auroc_macro"],
            "auroc_classes_absent": m["auroc_classes_absent"],
            "sensitivity": {name: s["sensitivity"] for name, s in m["per_class"].items()},
        }
    return out


def evaluate_level(
    y_true,
    probs,
    patient_ids: Sequence[str],
    class_names: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """``classification_metrics`` plus ``ci95`` (patient bootstrap): one section of metrics.json.
    With no rows (e.g. no patient the model could assess) every figure is None, n is 0."""
    if not len(y_true):
        return empty_level(class_names)
    metrics = classification_metrics(y_true, probs, class_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on replicates with one class; handled
        metrics["ci95"] = bootstrap_ci(
            y_true, probs, patient_ids, class_names, n_boot=n_boot, seed=seed
        )
    return metrics


def empty_level(class_names: Sequence[str]) -> dict:
    """The section of a level with nothing to score: the same keys, no figures."""
    names, k = list(class_names), len(class_names)
    stats = dict.fromkeys(("sensitivity", "specificity", "ppv", "npv", "auroc"))
    return {
        "n": 0, "accuracy": None, "auroc_macro": None, "auroc_classes_absent": names,
        "per_class": {name: stats | {"support": 0} for name in names},
        "confusion": [[0] * k for _ in range(k)],
        "confusion_axes": "rows = truth, columns = prediction, in class_names order",
        "class_names": names, "ci95": {},
    }  # fmt: skip


def exact_accuracy_ci(n_correct: int, n: int, level: float = 0.95) -> dict | None:
    """Clopper-Pearson interval for a proportion of independent trials (patients), from scipy.

    Why besides the bootstrap: when every patient is right (or wrong) every bootstrap replicate
    is too, and the percentile interval collapses to [1, 1]; the exact interval stays honest
    (200 of 200 right: 0.982-1.000). Only valid where trials are independent - patients, not
    the images of one patient."""
    if n <= 0:
        return None
    ci = binomtest(int(n_correct), int(n)).proportion_ci(confidence_level=level, method="exact")
    return {
        "low": float(ci.low),
        "high": float(ci.high),
        "method": "Clopper-Pearson",
        "level": level,
    }


def json_ready(obj):
    """Replace numpy scalars/arrays and non-finite floats (-> None) so ``json.dumps`` is strict."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
