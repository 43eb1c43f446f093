"""From per-image probabilities to the metrics sections of ``metrics.json``, and the
calibration temperature. Shared by training (validation), ``cnsight-eval`` and cross-validation,
so every number CNSight reports is computed the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.aggregation import RULES, aggregate_patient
from core.metrics import (
    calibration,
    classification_metrics,
    evaluate_level,
    exact_accuracy_ci,
    ga_bin,
    subgroup_metrics,
)
from core.records import ImageRef, Patient

log = logging.getLogger(f"cnsight.{__name__}")


@dataclass(frozen=True)
class PatientTable:
    """Patient-level truth and prediction (rows in ``patient_ids`` order)."""

    patient_ids: list[str]
    truth: np.ndarray  # class index per patient
    probs: np.ndarray  # P x K, aggregated by ``rule``
    ga_weeks: list[float | None]
    sites: list[str | None]
    rule: str
    excluded: list[str]  # patients with conflicting labels (no single truth)
    verdicts: list = field(default_factory=list)  # PatientPrediction per row (rule, drivers)
    not_assessable: list[str] = field(default_factory=list)  # labelled, but no assessable view


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 100) -> float:
    """The T > 0 that minimises the NLL of softmax(logits / T) (Guo et al. 2017), by L-BFGS on
    log T. Fitted on VALIDATION logits only; it rescales confidence and never changes argmax."""
    logits = logits.detach().double()
    labels = labels.detach().long()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(np.clip(log_t.exp().item(), 0.05, 20.0))


def patient_table(
    refs: Sequence[ImageRef],
    probs: np.ndarray,
    class_names: Sequence[str],
    rule: str = "mean_softmax",
    assessable: Sequence[bool] | None = None,
    temperature: float | None = None,
) -> PatientTable:
    """Group image rows by patient, aggregate with ``rule`` (core.aggregation, as the app does:
    only ``assessable`` rows count, ``temperature`` is the bundle's patient temperature).
    Patients without an assessable view are listed in ``not_assessable``, not scored."""
    rows_of: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        rows_of.setdefault(ref.patient_id, []).append(i)
    ids, truth, agg, gas, sites, excluded, verdicts = [], [], [], [], [], [], []
    not_assessable = []
    for pid, rows in rows_of.items():
        patient = Patient(pid, tuple(refs[i] for i in rows))
        if patient.label is None or patient.label not in class_names:
            excluded.append(pid)
            continue
        verdict = aggregate_patient(
            pid,
            probs[rows],
            [refs[i].key for i in rows],
            class_names,
            rule,
            views=[str(refs[i].path) for i in rows],
            assessable=None if assessable is None else [assessable[i] for i in rows],
            temperature=temperature,
        )
        if not verdict.assessable:
            not_assessable.append(pid)
            continue
        ids.append(pid)
        verdicts.append(verdict)
        truth.append(list(class_names).index(patient.label))
        agg.append(verdict.probs)
        gas.append(patient.ga_weeks)
        sites.append(patient.site)
    if excluded:
        log.warning(
            "%d patient(s) without a single truth label left out of patient metrics", len(excluded)
        )
    k = len(class_names)
    return PatientTable(
        ids,
        np.asarray(truth, dtype=np.int64),
        np.asarray(agg, dtype=np.float64).reshape(-1, k),
        gas,
        sites,
        rule,
        excluded,
        verdicts,
        not_assessable,
    )


def image_truth(refs: Sequence[ImageRef], class_names: Sequence[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(class_names)}
    return np.asarray([index[r.label] for r in refs], dtype=np.int64)


def _subgroups(truth, probs, ga, sites, class_names) -> dict:
    return {
        "ga_bin": subgroup_metrics(truth, probs, [ga_bin(g) for g in ga], class_names),
        "site": subgroup_metrics(truth, probs, [s or "unknown" for s in sites], class_names),
    }


def score_predictions(
    refs: Sequence[ImageRef],
    probs: np.ndarray,
    class_names: Sequence[str],
    rule: str = "mean_softmax",
    n_boot: int = 1000,
    seed: int = 0,
    n_bins: int = 10,
    assessable: Sequence[bool] | None = None,
    temperature: float | None = None,
) -> dict:
    """The ``image``, ``patient``, ``calibration`` and ``subgroups`` sections of metrics.json.

    Image metrics cover every readable image (the model's raw output, comparable across
    bundles); patient verdicts use only the assessable views, as the app does, and a patient
    without any is reported as not assessable (``patient.not_assessable``), not scored."""
    probs = np.asarray(probs, dtype=np.float64)
    y_img = image_truth(refs, class_names)
    img_patients = [r.patient_id for r in refs]
    table = patient_table(refs, probs, class_names, rule, assessable, temperature)
    image = evaluate_level(y_img, probs, img_patients, class_names, n_boot=n_boot, seed=seed)
    patient = evaluate_level(
        table.truth, table.probs, table.patient_ids, class_names, n_boot=n_boot, seed=seed
    )
    patient["rule"] = rule
    patient["excluded_conflicting_labels"] = table.excluded
    n_right = int(np.sum(table.probs.argmax(1) == table.truth)) if len(table.truth) else 0
    patient["accuracy_exact_ci95"] = exact_accuracy_ci(n_right, len(table.truth))
    patient["not_assessable"] = table.not_assessable
    scored = len(table.truth) + len(table.not_assessable)
    # Coverage-honest figure: a patient the tool refuses to read counts as not right.
    patient["accuracy_counting_not_assessable_as_wrong"] = n_right / scored if scored else None
    patient["calibrated"] = temperature is not None and rule != "majority_vote"
    image_sub = _subgroups(
        y_img, probs, [r.ga_weeks for r in refs], [r.site for r in refs], class_names
    )
    patient_sub = _subgroups(table.truth, table.probs, table.ga_weeks, table.sites, class_names)
    return {
        "image": image,
        "patient": patient,
        "calibration": {
            "image": calibration(y_img, probs, n_bins),
            "patient": calibration(table.truth, table.probs, n_bins),
        },
        "subgroups": {
            "bins": "GA <20, 20-27 (20 <= GA < 28), >=28 weeks; sites as recorded",
            "ga_bin": {"patient": patient_sub["ga_bin"], "image": image_sub["ga_bin"]},
            "site": {"patient": patient_sub["site"], "image": image_sub["site"]},
        },
    }


def quick_scores(
    refs: Sequence[ImageRef],
    probs: np.ndarray,
    class_names: Sequence[str],
    rule: str = "mean_softmax",
) -> dict:
    """Image/patient accuracy and macro AUROC without bootstrap (per-epoch validation)."""
    probs = np.asarray(probs, dtype=np.float64)
    image = classification_metrics(image_truth(refs, class_names), probs, class_names)
    table = patient_table(refs, probs, class_names, rule)
    patient = classification_metrics(table.truth, table.probs, class_names)
    return {"image": image, "patient": patient}


AUTO_RULE = "auto"


def epoch_rule(rule: str) -> str:
    """The rule for per-epoch validation scores: ``auto`` is only decided at the end of a run."""
    return "mean_softmax" if rule == AUTO_RULE else rule


def choose_rule(
    refs: Sequence[ImageRef], probs: np.ndarray, class_names: Sequence[str]
) -> tuple[str, dict]:
    """Pick the patient rule on VALIDATION predictions (calibrated): highest patient accuracy,
    then lowest patient NLL, then the published default (mean_softmax) - in that order.
    Vote fractions (majority_vote) are not probabilities, so their NLL breaks no tie.

    Returns the rule and, per rule, the numbers it was chosen on (written to the model card).
    """
    candidates = {}
    for rule in RULES:
        table = patient_table(refs, probs, class_names, rule)
        acc = float(np.mean(table.probs.argmax(1) == table.truth)) if len(table.truth) else 0.0
        nll = calibration(table.truth, table.probs)["nll"] if len(table.truth) else float("inf")
        candidates[rule] = {"patient_accuracy": acc, "patient_nll": float(nll)}
    order = list(RULES)  # RULES starts with the default, so it wins exact ties
    best = min(
        order,
        key=lambda r: (
            -candidates[r]["patient_accuracy"],
            round(candidates[r]["patient_nll"], 9) if r != "majority_vote" else float("inf"),
            order.index(r),
        ),
    )
    return best, candidates
