"""``cnsight-eval``: evaluate a bundle on labelled data; writes DIR/metrics.json and DIR/report.html.

Predictions come from ``core.predictor.Predictor`` and patient verdicts from
``core.aggregation`` - exactly what the app and ``cnsight-predict`` run, with the bundle's
preprocessing, temperature and domain check (only assessable views count for a patient).
With ``--ood INPUT...`` the out-of-distribution detector is measured too (``domain`` section:
in-domain = --data, out-of-domain = those inputs; training/ood_eval.py). An unreadable image is reported (``errors``) and its patient
is scored on the images that could be read; a patient with none is listed and left out.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core import prediction_csv
from core.aggregation import RULES
from core.bundle import load_bundle
from core.deidentify import Pseudonyms, scrub
from core.devices import DEFAULT_DEVICE, DEVICES
from core.errors import CNSightError
from core.inference import DEFAULT_BACKEND, add_backend_argument
from core.metrics import json_ready
from core.predictor import Predictor
from core.records import FileError, ImageRef
from training.data import load_cohort
from training.errors import TrainingError
from training.ood_eval import domain_metrics, out_of_domain_inputs
from training.predictions import Predictions, predict_images
from training.report import write_report
from training.run_files import command_line, setup_logging
from training.scoring import patient_table, score_predictions

log = logging.getLogger("cnsight.eval")
RESEARCH_USE_ONLY = "Research use only - not for diagnosis."


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnsight-eval",
        add_help=add_help,
        description=f"Evaluate a CNSight model bundle on labelled data. {RESEARCH_USE_ONLY}",
    )
    p.add_argument("--model", type=Path, required=True, help="model bundle folder")
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="manifest CSV, <class>/<patient_id>/ folder or DICOM folder",
    )
    p.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="CSV patient_id,label[,ga_weeks,site] (DICOM folders)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="output folder (metrics.json, report.html, CSVs)"
    )
    p.add_argument("--device", default=DEFAULT_DEVICE, help=f"{', '.join(DEVICES)} or cuda:N")
    p.add_argument("--batch-size", type=int, default=16)
    add_backend_argument(p)
    p.add_argument(
        "--rule",
        default=None,
        choices=list(RULES),
        help="patient-level rule (default: the bundle's)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        help="bootstrap replicates for the 95%% CIs (patients resampled)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--bins", type=int, default=10, help="reliability diagram bins")
    p.add_argument(
        "--ood",
        nargs="+",
        default=[],
        metavar="INPUT",
        help="out-of-domain inputs (files, folders, manifests; labels not needed): the "
        "out-of-distribution detector is measured against --data as the in-domain set",
    )
    p.add_argument(
        "--deidentify",
        action="store_true",
        help="write no patient id, file name or path (metrics.json, report.html, CSVs): case "
        "and image labels instead, error messages without paths",
    )
    p.add_argument("--no-progress", action="store_true")
    return p


def labelled_images(
    refs: Sequence[ImageRef], class_names: Sequence[str]
) -> tuple[list[ImageRef], dict]:
    """The images whose label is one of the model's classes, and counts of those left out."""
    kept = [r for r in refs if r.label in class_names]
    unlabelled = sum(1 for r in refs if not r.label)
    foreign: dict[str, int] = {}
    for r in refs:
        if r.label and r.label not in class_names:
            foreign[r.label] = foreign.get(r.label, 0) + 1
    if unlabelled or foreign:
        log.warning(
            "left out: %d unlabelled image(s); labels outside the model's classes: %s",
            unlabelled,
            foreign or "none",
        )
    return kept, {"unlabelled_images": unlabelled, "images_with_labels_outside_model": foreign}


def manifest_patients(data: Path) -> dict[str, str]:
    """Resolved path -> patient_id of a manifest's rows, to name the patient of a file that
    discovery already refused (its FileError carries only the path)."""
    if data.suffix.lower() != ".csv":
        return {}
    try:
        with open(data, newline="", encoding="utf-8-sig") as f:
            return {
                str((data.parent / r["path"]).resolve()): r.get("patient_id") or ""
                for r in csv.DictReader(f)
                if r.get("path")
            }
    except (OSError, KeyError, UnicodeDecodeError, csv.Error):
        return {}


def unreadable_files(
    data: Path, discovery_errors: Sequence[FileError], read_errors: Sequence[tuple]
) -> list[dict]:
    """Every file that gave no prediction: refused at discovery or failed to decode."""
    owner = manifest_patients(Path(data))
    out = [
        {
            "path": e.path,
            "message": e.message,
            "stage": "discovery",
            "patient_id": owner.get(str(Path(e.path).resolve())),
        }
        for e in discovery_errors
    ]
    out += [
        {"path": ref.key, "message": reason, "stage": "read", "patient_id": ref.patient_id}
        for ref, reason in read_errors
    ]
    return out


def patient_read_status(
    refs: Sequence[ImageRef], predicted: Sequence[ImageRef], unreadable: Sequence[dict]
) -> dict:
    """Patients with some / all images unreadable (reported, never a crash)."""
    total: dict[str, int] = {}
    for r in refs:
        total[r.patient_id] = total.get(r.patient_id, 0) + 1
    for e in unreadable:
        if e["stage"] == "discovery" and e["patient_id"]:
            total[e["patient_id"]] = total.get(e["patient_id"], 0) + 1
    ok: dict[str, int] = {}
    for r in predicted:
        ok[r.patient_id] = ok.get(r.patient_id, 0) + 1
    return {
        "patients_with_unreadable_images": sorted(
            p for p, n in total.items() if 0 < ok.get(p, 0) < n
        ),
        "patients_without_readable_images": sorted(p for p in total if not ok.get(p)),
    }


def write_prediction_csvs(
    out: Path,
    predictions: Predictions,
    class_names: Sequence[str],
    rule: str,
    temperature: float | None = None,
    pseudonyms: Pseudonyms | None = None,
) -> None:
    """images.csv (one row per image, or an error) and patients.csv (verdict per patient),
    every cell through ``prediction_csv.writer``; with ``pseudonyms``, case and image labels
    instead of patient ids and paths, and error messages without paths."""

    def who(ref: ImageRef) -> tuple[str, str]:
        if pseudonyms is None:
            return ref.patient_id, str(ref.path)
        return pseudonyms.case(ref.patient_id), pseudonyms.image(ref.patient_id, ref)

    with open(out / "images.csv", "w", newline="", encoding="utf-8") as f:
        writer = prediction_csv.writer(f)
        writer.writerow(prediction_csv.image_header(class_names, with_label=True))
        for i, (ref, p) in enumerate(zip(predictions.refs, predictions.probs, strict=True)):
            writer.writerow(
                prediction_csv.image_row(
                    class_names,
                    *who(ref),
                    ref.frame,
                    p,
                    label=ref.label,
                    check=predictions.checks[i] if predictions.checks else None,
                    ood_score=_score(predictions, i),
                    plane=predictions.planes[i] if predictions.planes else None,
                )  # fmt: skip
            )
        for ref, reason in predictions.errors:
            if pseudonyms is not None:
                reason = scrub(reason, [ref.path])
            writer.writerow(
                prediction_csv.image_row(class_names, *who(ref), ref.frame, None, reason, ref.label)
            )
    assessable = predictions.assessable if predictions.checks else None
    table = patient_table(
        predictions.refs, predictions.probs, class_names, rule, assessable, temperature
    )
    image_name = {} if pseudonyms is None else {"image_name": pseudonyms.image_key}
    with open(out / "patients.csv", "w", newline="", encoding="utf-8") as f:
        writer = prediction_csv.writer(f)
        writer.writerow(prediction_csv.patient_header(class_names, with_label=True))
        for pid, truth, verdict in zip(table.patient_ids, table.truth, table.verdicts, strict=True):
            shown = pid if pseudonyms is None else pseudonyms.case(pid)
            writer.writerow(
                prediction_csv.patient_row(
                    class_names, shown, verdict, rule, label=class_names[truth], **image_name
                )
            )


def deidentify_metrics(metrics: dict, pseudonyms: Pseudonyms, paths: Sequence) -> dict:
    """metrics.json (and the report made from it) without ids or paths: the command line and
    the data source scrubbed, the model path left out, unreadable files named by labels."""
    out = dict(metrics)
    out["command"] = scrub(str(metrics.get("command") or ""), paths)
    out["model"] = {**metrics["model"], "path": None}
    out["data"] = {**metrics["data"], "source": "(de-identified)"}
    errors = []
    for e in metrics.get("errors") or []:
        pid = e.get("patient_id")
        path, _, frame = e["path"].rpartition("#")  # a frame's key: "<path>#<frame>"
        path = path if frame.isdigit() else e["path"]  # the label images.csv gives the file
        label = pseudonyms.image(pid, path) if pid else pseudonyms.file(path)
        errors.append({
            **e,
            "path": label,
            "message": scrub(e["message"], [e["path"], *paths]),
            "patient_id": pseudonyms.case(pid) if pid else None,
        })  # fmt: skip
    out["errors"] = errors
    for key in ("patients_with_unreadable_images", "patients_without_readable_images"):
        if key in metrics:
            out[key] = [pseudonyms.case(p) for p in metrics[key]]
    out["deidentified"] = True
    return out


def _score(predictions: Predictions, i: int) -> float | None:
    if predictions.ood_scores is None or np.isnan(predictions.ood_scores[i]):
        return None
    return float(predictions.ood_scores[i])


def evaluate(args: argparse.Namespace) -> dict:
    """Predict, score and write the outputs; returns the metrics dict."""
    bundle = load_bundle(args.model)
    names = bundle.card.class_names
    rule = args.rule or bundle.card.aggregation
    study = load_cohort(args.data, names, args.labels)
    refs, excluded = labelled_images(study.images, names)
    if not refs:
        raise TrainingError(
            f"{args.data}: no image is labelled with one of the model's classes "
            f"({', '.join(names)}); evaluation needs labels"
        )
    backend = getattr(args, "backend", DEFAULT_BACKEND)  # a caller's Namespace may lack it
    with Predictor(
        bundle, device=args.device, batch_size=args.batch_size, backend=backend
    ) as predictor:
        ran_on = {"device": str(predictor.device), "backend": predictor.backend_name}
        predictions = predict_images(predictor, refs, progress=not args.no_progress)
        outside = {
            source: predict_images(predictor, ood_refs, progress=not args.no_progress)
            for source, ood_refs in out_of_domain_inputs(args.ood).items()
        }
    if not predictions.refs:
        raise TrainingError(f"{args.data}: none of the {len(refs)} labelled images could be read")
    temperature = bundle.card.patient_temperature_for(rule)
    metrics = score_predictions(
        predictions.refs,
        predictions.probs,
        names,
        rule=rule,
        n_boot=args.bootstrap,
        seed=args.seed,
        n_bins=args.bins,
        assessable=predictions.assessable,
        temperature=temperature,
    )
    metrics["domain"] = domain_metrics(predictions, outside, names)
    unreadable = unreadable_files(args.data, study.errors, predictions.errors)
    deidentify = getattr(args, "deidentify", False)
    pseudonyms = Pseudonyms(sorted({r.patient_id for r in refs})) if deidentify else None
    metrics = {
        "research_use_only": RESEARCH_USE_ONLY,
        "command": getattr(args, "command", None) or command_line("cnsight-eval"),
        "model": {
            "path": str(args.model),
            "name": bundle.card.name,
            "architecture": bundle.card.architecture,
            "class_names": list(names),
            "temperature": bundle.card.temperature,
            "weights_sha256": bundle.card.weights_sha256,
            "preprocessing": bundle.card.preprocessing.to_dict(),
            "planes": list(bundle.card.planes),
            "domain": bundle.card.domain,
            "patient_temperature": bundle.card.patient_temperature,
            **ran_on,
        },
        "data": {
            "source": str(args.data),
            "images": len(predictions.refs),
            "patients": len({r.patient_id for r in predictions.refs}),
            "excluded": excluded,
        },
        **metrics,
        "errors": unreadable,
        **patient_read_status(refs, predictions.refs, unreadable),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if pseudonyms is not None:
        given = [args.data, args.model, args.out, args.labels, *args.ood]
        metrics = deidentify_metrics(metrics, pseudonyms, [str(p) for p in given if p])
    metrics = json_ready(metrics)
    (out / "metrics.json").write_text(
        json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    write_prediction_csvs(out, predictions, names, rule, temperature, pseudonyms)
    write_report(
        out / "report.html", metrics, predictions.refs, predictions.probs, names,
        predictions.assessable, temperature,
    )  # fmt: skip
    return metrics


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Console entry point. Exit codes: 0 done, 2 bad input (message logged)."""
    if not isinstance(args, argparse.Namespace):
        argv = args
        args = get_args_parser().parse_args(argv)
        args.command = command_line("cnsight-eval", argv)
    setup_logging()
    try:
        metrics = evaluate(args)
    except CNSightError as e:
        log.error("%s", e)
        return 2
    img, pat = metrics["image"], metrics["patient"]
    log.info(
        "images: accuracy %.4f, macro AUROC %s | patients: accuracy %.4f, macro AUROC %s -> %s",
        img["accuracy"],
        img["auroc_macro"],
        pat["accuracy"] or 0,
        pat["auroc_macro"],
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
