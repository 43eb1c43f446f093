"""The end of a run: calibrate on validation, score validation, fit the out-of-distribution
statistics, write RUN_DIR/bundle/.

What each number in the bundle is fitted on (no test data anywhere):
- image temperature, patient rule (``--aggregation auto``), patient temperature: validation;
- domain statistics (class means, shared covariance): training images, seen without
  augmentation (a seeded sample of ``--domain-fit-images``);
- out-of-distribution threshold: validation images (keeps ``--domain-keep`` of them).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.bundle import ModelCard, save_bundle
from core.feature_domain import (
    DEFAULT_STAGES,
    FeatureDomain,
    fit_feature_domain,
    network_stages,
)
from core.metrics import calibration
from core.model import HEATMAP_LAYER, FeatureTap, plane_head
from core.records import ImageRef
from core.taxonomy import Taxonomy
from core.texture_statistics import TEXTURE
from training.data import ImageDataset, augment_params, data_summary, plane_targets, preprocess_spec
from training.distributed import DistContext, barrier
from training.engine import make_loader
from training.feature_cache import STAGES, CachedRow, FeatureCache
from training.run_files import RunPaths, args_to_dict
from training.run_state import FitResult, RunState, TrainingData
from training.scoring import (
    AUTO_RULE,
    choose_rule,
    fit_temperature,
    image_truth,
    patient_table,
    quick_scores,
)

log = logging.getLogger(f"cnsight.{__name__}")


def _summary(m: dict) -> dict:
    keep = ("n", "accuracy", "auroc_macro", "auroc_classes_absent", "confusion")
    out = {k: m[k] for k in keep}
    out["per_class"] = {
        c: {s: v for s, v in stats.items() if s != "support"} for c, stats in m["per_class"].items()
    }
    return out


@dataclass(frozen=True)
class ValidationCalibration:
    """The temperature fitted on the validation logits and what it was judged on."""

    temperature: float
    rule: str  # the patient rule the bundle carries (chosen here when --aggregation auto)
    metrics: dict  # the card's validation_metrics section (JSON, shown to readers of the card)
    patient_temperature: float | None = None  # None: too few validation patients to fit one


@dataclass(frozen=True)
class NetworkOutputs:
    """Logits and pooled features of readable images (rows follow ``refs``)."""

    refs: tuple[ImageRef, ...]
    logits: torch.Tensor  # N x K
    pooled: torch.Tensor  # N x C: layer4, the class head's input
    stages: dict[str, torch.Tensor]  # stage -> N x C_s: every stage the domain score uses
    cropped: np.ndarray  # N bools: the image was cut to a DICOM ultrasound region


#: fit_temperature's clip range: a fit that ends at either bound is not a calibration.
T_BOUNDS = (0.05, 20.0)
#: Fewest labelled validation patients a patient temperature is fitted on.
MIN_PATIENTS_FOR_TEMPERATURE = 10


def fit_patient_temperature(
    refs: Sequence[ImageRef], calibrated: np.ndarray, names: Sequence[str], rule: str
) -> tuple[float | None, dict]:
    """The patient temperature (pooled log-probabilities / T) that minimises the NLL of the
    validation patients' truths, and the NLL before/after; None when there are too few."""
    table = patient_table(refs, calibrated, names, rule)
    if rule == "majority_vote" or len(table.truth) < MIN_PATIENTS_FOR_TEMPERATURE:
        return None, {"patients": len(table.truth), "fitted": False}
    if np.all(table.probs.argmax(1) == table.truth):
        # Every validation patient right: the NLL keeps falling as T -> 0, so no temperature
        # is supported by these patients; the figure stays a score (labelled so).
        log.info("patient temperature not identifiable: every validation patient is right")
        return None, {
            "patients": len(table.truth),
            "fitted": False,
            "why": "every validation patient is right: no temperature is identifiable (bound 0)",
        }
    log_pooled = torch.from_numpy(np.log(np.clip(table.probs, 1e-6, 1.0)))
    truth = torch.from_numpy(table.truth)
    t = fit_temperature(log_pooled, truth)
    nll = torch.nn.functional.cross_entropy
    report = {
        "patients": len(table.truth),
        "fitted": True,
        "nll_before": float(nll(log_pooled, truth)),
        "nll_after": float(nll(log_pooled / t, truth)),
    }
    if not T_BOUNDS[0] * 1.01 < t < T_BOUNDS[1] * 0.99:
        # At a bound the NLL kept falling: the validation patients are (nearly) separated, so
        # any sharper T looks better and the fit says nothing about unseen patients. The
        # figure then stays a score (labelled so) rather than a falsely certain probability.
        log.info("patient temperature not identifiable (fit ran to the bound %.2f): a score", t)
        return None, report | {"fitted": False, "why": f"the fit ran to the bound {t:.2f}"}
    log.info("patient temperature %.3f (validation patient NLL %.4f -> %.4f)", t,
             report["nll_before"], report["nll_after"])  # fmt: skip
    return t, report


def validation_report(
    refs: Sequence[ImageRef], logits: torch.Tensor, taxonomy: Taxonomy, rule: str
) -> ValidationCalibration:
    """Fit the temperature on validation logits; metrics of the calibrated validation predictions.

    With ``rule == "auto"`` the patient rule is chosen here, on the same calibrated validation
    predictions; the result's ``rule`` (and ``metrics["patient"]["rule"]``) names it."""
    names = taxonomy.class_names
    labels = torch.from_numpy(image_truth(refs, names))
    temperature = fit_temperature(logits, labels)
    raw = torch.softmax(logits.double(), 1).numpy()
    calibrated = torch.softmax(logits.double() / temperature, 1).numpy()
    rule_choice = None
    if rule == AUTO_RULE:
        rule, candidates = choose_rule(refs, calibrated, names)
        rule_choice = {
            "chosen": rule,
            "by": "validation patients: accuracy, then NLL, then mean_softmax",
            "candidates": candidates,
        }
        log.info("patient rule chosen on validation: %s (%s)", rule, candidates)
    scores = quick_scores(refs, calibrated, names, rule)
    patient_t, patient_report = fit_patient_temperature(refs, calibrated, names, rule)
    y = labels.numpy()
    before, after = calibration(y, raw), calibration(y, calibrated)
    report = {
        "split": "validation (the only data used for selection and calibration)",
        "image": _summary(scores["image"]),
        "patient": _summary(scores["patient"]) | {"rule": rule},
        "ece_before_temperature": before["ece"],
        "ece_after_temperature": after["ece"],
        "nll_before_temperature": before["nll"],
        "nll_after_temperature": after["nll"],
        "patient_temperature": patient_report,
    }
    if rule_choice:
        report["patient_rule_selection"] = rule_choice
    log.info(
        "temperature %.3f (validation NLL %.4f -> %.4f, ECE %.4f -> %.4f)",
        temperature,
        before["nll"],
        after["nll"],
        before["ece"],
        after["ece"],
    )
    return ValidationCalibration(
        temperature=temperature, rule=rule, metrics=report, patient_temperature=patient_t
    )


def write_run_bundle(
    model: torch.nn.Module,
    data: TrainingData,
    state: RunState,
    calibrated: ValidationCalibration,
    args: argparse.Namespace,
    run: RunPaths,
    domain: FeatureDomain | None = None,
    domain_section: dict | None = None,
) -> ModelCard:
    """``save_bundle`` with a card that says what data, split, recipe and validation made it."""
    names = data.taxonomy.class_names
    training_data = {
        "source": str(args.data),
        "all_used": data_summary([*data.train_refs, *data.val_refs], names),
        "train": data_summary(data.train_refs, names),
        "validation": data_summary(data.val_refs, names),
        "test_patients_held_out": len(data.split.test),
    }
    training = {
        "command": args.command,
        "args": args_to_dict(args),
        "split": data.split.summary(),
        "recipe": {
            "optimizer": f"AdamW lr {args.lr:g} weight decay {args.weight_decay:g}",
            "schedule": f"{args.warmup_epochs:g} warm-up epoch(s), cosine decay over {args.epochs} epochs",
            "loss": "cross-entropy"
            + ("" if args.no_class_weights else ", class-weighted N/(K n_k)"),
            "augmentation": augment_params(args).to_dict(),
            "batch_size": args.batch_size,
        },
        "processes": state.world_size,
        "epochs_run": state.epochs_done,
        "best_epoch": state.best_epoch + 1,
        "selected_by": f"{args.select_metric} on the validation split",
        "stopped_early": state.stopped_early,
        "history": [record.to_dict() for record in state.history],
    }
    card = ModelCard(
        name=args.name or f"{args.arch}-{run.root.name}",
        architecture=args.arch,
        taxonomy=data.taxonomy,
        preprocessing=preprocess_spec(args),
        aggregation=calibrated.rule,
        temperature=float(np.round(calibrated.temperature, 6)),
        planes=data.planes,
        domain=domain_section or {},
        patient_temperature=None
        if calibrated.patient_temperature is None
        else float(np.round(calibrated.patient_temperature, 6)),
        training_data=training_data,
        validation_metrics=calibrated.metrics,
        training=training,
        description=args.description or "Research use only - not for diagnosis.",
    )
    written = save_bundle(model, card, run.bundle, half=args.half, feature_domain=domain)
    log.info(
        "bundle %s (%s weights, sha256 %s)",
        run.bundle,
        written.weights_dtype,
        written.weights_sha256[:12],
    )
    return written


@torch.no_grad()
def collect_outputs(
    model: torch.nn.Module,
    refs: Sequence[ImageRef],
    data: TrainingData,
    args: argparse.Namespace,
    device: torch.device,
    desc: str,
    cache: FeatureCache | None = None,
) -> NetworkOutputs:
    """Logits and pooled features (every stage of ``--domain-stages``) in fp32 without AMP, in
    this one process, images prepared exactly as the app and cnsight-eval prepare them.

    With a ``cache`` (training/feature_cache.py), images it holds are not run again (their
    logits are ``fc`` of the cached ``layer4`` features) and new rows are added to it."""
    stages = STAGES if cache is not None else domain_stages(args)
    todo = [i for i, r in enumerate(refs) if cache is None or r.key not in cache.rows]
    rows: dict[int, tuple] = {}
    model.eval()
    if todo:
        dataset = ImageDataset(
            [refs[i] for i in todo], data.taxonomy.class_names, preprocess_spec(args),
            report_cropped=True,
        )  # fmt: skip
        loader = make_loader(dataset, args.batch_size, args.workers, DistContext(), args.seed, train=False)  # fmt: skip
        with FeatureTap(model, HEATMAP_LAYER, network_stages(stages)) as tap:
            for batch in tqdm(loader, desc=desc, disable=args.no_progress, leave=False):
                if batch is None:
                    continue
                images, _, indices, cropped, texture = batch
                logits = model(images.to(device)).float().cpu()
                pooled = {s: f.float().cpu() for s, f in tap.stage_features().items()}
                if TEXTURE in stages:
                    pooled[TEXTURE] = texture.float()
                for j, local in enumerate(indices.tolist()):
                    i = todo[local]
                    rows[i] = (logits[j], {s: f[j] for s, f in pooled.items()}, bool(cropped[j]))
                    if cache is not None:
                        row = CachedRow({s: f[j].numpy() for s, f in pooled.items()}, rows[i][2])
                        cache.rows[refs[i].key] = row
        if cache is not None:
            cache.save()
    head = getattr(model, "module", model).fc
    for i, ref in enumerate(refs):
        if i not in rows and cache is not None and ref.key in cache.rows:
            row = cache.rows[ref.key]
            feats = {s: torch.from_numpy(np.asarray(f, np.float32)) for s, f in row.stages.items()}
            logits = head(feats[HEATMAP_LAYER].to(device)[None]).float().cpu()[0]
            rows[i] = (logits, feats, row.cropped)
    order = sorted(rows)
    names = list(rows[order[0]][1]) if order else [HEATMAP_LAYER]
    by_stage = {s: torch.stack([rows[i][1][s] for i in order]) for s in names} if order else {}
    return NetworkOutputs(
        refs=tuple(refs[i] for i in order),
        logits=torch.stack([rows[i][0] for i in order]),
        pooled=by_stage.get(HEATMAP_LAYER, torch.zeros(0, 0)),
        stages=by_stage,
        cropped=np.array([rows[i][2] for i in order], dtype=bool),
    )


def domain_stages(args: argparse.Namespace) -> tuple[str, ...]:
    """The stages the out-of-distribution score combines (``--domain-stages``)."""
    return tuple(getattr(args, "domain_stages", None) or DEFAULT_STAGES)


def describe_feature_groups(stages: Sequence[str]) -> str:
    """The card's words for what the score measures (network stages and pixel texture)."""
    network = network_stages(stages)
    parts = []
    if network:
        parts.append(
            f"global average of each stage's output ({', '.join(network)}; "
            f"{HEATMAP_LAYER} is the class head's input)"
        )
    if TEXTURE in stages:
        parts.append("pixel texture at native resolution (core.texture_statistics)")
    return " + ".join(parts)


def fit_domain(
    model: torch.nn.Module,
    data: TrainingData,
    validation: NetworkOutputs,
    args: argparse.Namespace,
    device: torch.device,
    cache: FeatureCache | None = None,
) -> tuple[FeatureDomain, dict]:
    """Domain statistics from (a seeded sample of) the training images, the thresholds from the
    validation images; and the card's ``domain`` section describing both."""
    rng = np.random.default_rng(args.seed)
    train = list(data.train_refs)
    if len(train) > args.domain_fit_images:
        train = [train[i] for i in sorted(rng.choice(len(train), args.domain_fit_images, False))]
    fit_on = collect_outputs(model, train, data, args, device, "domain statistics", cache)
    labels = image_truth(fit_on.refs, data.taxonomy.class_names)
    stages = domain_stages(args)
    domain, distances = fit_feature_domain(
        {s: fit_on.stages[s] for s in stages}, labels, len(data.taxonomy),
        {s: validation.stages[s] for s in stages}, args.domain_keep, validation.cropped,
    )  # fmt: skip
    kept = float(np.mean(distances <= domain.thresholds(validation.cropped, len(distances))))
    section = {
        "feature": describe_feature_groups(stages),
        "fitted_on": "training split, images as evaluated (no augmentation)",
        "threshold_on": "validation split",
        "keep": args.domain_keep,
        "kept_validation": round(kept, 4),
        "n_fit_images": len(fit_on.refs),
        "n_validation_images": len(validation.refs),
        "n_validation_region_cropped": int(validation.cropped.sum()),
        "validation_distance_quantiles": {
            q: round(float(np.quantile(distances, q / 100)), 4) for q in (5, 50, 95, 99)
        },
    } | domain.describe()
    log.info(
        "domain statistics (%s) on %d training images; thresholds %.3f / region %s keep %.1f%% of "
        "%d validation images",
        "+".join(stages), len(fit_on.refs), domain.threshold, domain.region_threshold,
        100 * kept, len(validation.refs),
    )  # fmt: skip
    return domain, section


def plane_accuracy(model: torch.nn.Module, outputs: NetworkOutputs, planes: Sequence[str]) -> dict:
    """The plane head on the validation images that name a plane it knows."""
    truth = plane_targets(outputs.refs, planes)
    known = truth >= 0
    if not known.any():
        return {"images": 0}
    with torch.no_grad():
        head = plane_head(model).to("cpu")
        guess = head(outputs.pooled).argmax(1)
    return {
        "images": int(known.sum()),
        "accuracy": round(float((guess[known] == truth[known]).float().mean()), 4),
    }


def finish(
    *,
    fitted: FitResult,
    data: TrainingData,
    args: argparse.Namespace,
    run: RunPaths,
    ctx: DistContext,
    device: torch.device,
) -> Path:
    """Rank 0: best weights -> temperature on validation -> validation metrics -> bundle.

    The calibration logits come from the training device in fp32 (no AMP); the bundle is
    written from a CPU copy. Every rank waits here until the bundle exists."""
    if ctx.is_main:
        model = fitted.model
        if fitted.best_weights is not None:
            model.load_state_dict(fitted.best_weights)
        model = model.to(device).to(memory_format=torch.contiguous_format).float()
        if args.half:  # calibrate and fit on the weights as the bundle stores them
            model = model.half().float()
        validation = collect_outputs(model, data.val_refs, data, args, device, "calibration")
        calibrated = validation_report(
            validation.refs, validation.logits, data.taxonomy, args.aggregation
        )
        domain, section = fit_domain(model, data, validation, args, device)
        model = model.to("cpu")
        if data.planes:
            planes = plane_accuracy(model, validation, data.planes)
            calibrated.metrics["plane"] = planes
            log.info("plane head on validation: %s", planes)
        write_run_bundle(model, data, fitted.state, calibrated, args, run, domain, section)
    barrier(ctx)
    return run.bundle
