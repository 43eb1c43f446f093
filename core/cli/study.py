"""cnsight-study: reader-study tools for the study coordinator.

    cnsight-study create STUDY --data MANIFEST_OR_DIR --readers R1,R2,... [--model BUNDLE]
                         [--washout-days 28] [--seed 0] [--title TEXT] [--classes ...]
    cnsight-study status STUDY        progress of every reader, next block, washout, log heads
    cnsight-study verify STUDY        recompute every reader's hash chain (exit 1 if one fails)
    cnsight-study export STUDY --out READS.csv
    cnsight-study analyze --reads READS.csv --out DIR [--fom ...] [--covariance ...]

Readers read in the app: ``cnsight --study STUDY --reader R1``. ``analyze`` runs the standard
MRMC analyses (Obuchowski-Rockette with Hillis df, and DBM) on long-format reads - columns
``reader,treatment,case,truth,rating``, the format MRMCaov, RJafroc and iMRMC read - and writes
``DIR/analysis.json`` and ``DIR/report.html``. Exit codes: 0 done, 1 verification failed,
2 bad input (one clear message).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from pathlib import Path

from core import RESEARCH_USE_ONLY
from core.errors import CNSightError
from core.metrics import json_ready
from core.mrmc import MrmcAnalysis, analyze, load_reads
from core.mrmc.covariance import METHODS
from core.mrmc.fom import FOMS, Fom
from core.mrmc.report import write_report

log = logging.getLogger("cnsight.study")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnsight-study",
        description="Reader-study tools. " + RESEARCH_USE_ONLY,
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser(
        "create",
        help="create a study: cases from labelled data, readers, counterbalanced reading order",
        description="Create STUDY/protocol.json: every patient of --data becomes an anonymous "
        "case (C001...), every reader reads every case unaided and aided, in a random order per "
        "block; half the readers start aided (counterbalanced); the second block opens after "
        "--washout-days.",
    )
    c.add_argument("study", type=Path, help="study folder to create (must not hold a protocol)")
    c.add_argument(
        "--data", type=Path, required=True, help="labelled cases: manifest CSV or folder"
    )
    c.add_argument(
        "--readers", required=True, help="comma-separated reader ids (letters, digits, - _)"
    )
    c.add_argument(
        "--model", type=Path, default=None, help="bundle for aided reads (default: demo model)"
    )
    c.add_argument(
        "--washout-days", type=float, default=28.0, help="between the two blocks (default 28)"
    )
    c.add_argument("--seed", type=int, default=0, help="seed of the reading orders")
    c.add_argument("--title", default="")
    c.add_argument("--classes", default=None, help="class names (default: the model's)")
    for name, text in (
        ("status", "progress of every reader"),
        ("verify", "check every reading log's hash chain"),
    ):
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("study", type=Path)
    e = sub.add_parser("export", help="write the long-format reads CSV of all decisions")
    e.add_argument("study", type=Path)
    e.add_argument("--out", type=Path, required=True, help="reads CSV to write")
    a = sub.add_parser(
        "analyze",
        help="MRMC analysis of long-format reads (OR with Hillis df, DBM)",
        description="MRMC analysis of reads (columns reader,treatment,case,truth,rating; truth "
        "0 = normal, 1 = abnormal; higher rating = more confident abnormal). Writes "
        "OUT/analysis.json and OUT/report.html.",
    )
    a.add_argument("--reads", type=Path, required=True, help="long-format reads CSV")
    a.add_argument("--out", type=Path, required=True, help="output folder (created)")
    a.add_argument("--fom", default="auc", choices=list(FOMS), help="figure of merit (default auc)")
    a.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="sensitivity/specificity: rating >= THRESHOLD counts as an abnormal call",
    )
    a.add_argument(
        "--covariance",
        default="jackknife",
        choices=list(METHODS),
        help="OR covariance estimate (default jackknife)",
    )
    a.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
    return p


def run_analyze(args: argparse.Namespace, command: str) -> MrmcAnalysis:
    """Analyse the reads; write OUT/analysis.json (provenance first, then the analysis) and
    OUT/report.html."""
    if not 0 < args.alpha < 1:
        raise CNSightError(f"--alpha must be between 0 and 1, got {args.alpha}")
    reads = load_reads(args.reads)
    analysis = analyze(reads, Fom(args.fom, args.threshold), args.covariance, args.alpha)
    provenance = {
        "research_use_only": RESEARCH_USE_ONLY,
        "command": command,
        "source": str(args.reads),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "analysis.json").write_text(
        json.dumps(json_ready(provenance | analysis.to_json()), indent=2, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    write_report(args.out / "report.html", analysis, source=str(args.reads))
    return analysis


def run_create(args: argparse.Namespace) -> int:
    from core.bundle import load_bundle
    from core.discovery import discover
    from core.readerstudy.privacy import burned_in_patients
    from core.readerstudy.protocol import create_protocol, save_protocol
    from core.resources import demo_model_dir

    model_dir = (args.model or demo_model_dir()).resolve()
    card = load_bundle(model_dir).card  # refuses a bundle the app would refuse
    names = tuple(c.strip() for c in args.classes.split(",")) if args.classes else card.class_names
    study = discover([args.data], names)
    if study.errors:
        log.warning(
            "%d file(s) of --data could not be used (first: %s)", len(study.errors), study.errors[0]
        )
    data = os.path.relpath(args.data.resolve(), args.study.resolve())
    protocol = create_protocol(
        study.patients, data, args.readers.split(","), names,
        {"path": str(model_dir), "weights_sha256": card.weights_sha256, "name": card.name},
        seed=args.seed, washout_days=args.washout_days, title=args.title,
    )  # fmt: skip
    burned = burned_in_patients(study.patients)
    if burned:
        log.warning(
            "%d of %d cases have text burned into their pixels (DICOM Burned In Annotation = YES); "
            "the reading window masks the header band and the area outside the ultrasound region, "
            "but text inside the region stays readable - de-identify the pixels if readers could "
            "recognise cases by it",
            len(burned), len(study.patients),
        )  # fmt: skip
    path = save_protocol(protocol, args.study)
    log.info(
        "study %s: %d cases, readers %s, washout %g days -> %s",
        protocol.study_id, len(protocol.cases), ", ".join(protocol.readers), protocol.washout_days, path,
    )  # fmt: skip
    log.info("readers start with: cnsight --study %s --reader %s", args.study, protocol.readers[0])
    return 0


def run_status(args: argparse.Namespace, verify_only: bool = False) -> int:
    from core.readerstudy.export import reader_logs

    _, statuses = reader_logs(args.study)
    for s in statuses:
        if not s.started:
            print(f"{s.reader}: not started")
        elif not s.ok:
            print(f"{s.reader}: FAILS VERIFICATION - {s.problem}")
        else:
            print(f"{s.reader}: log ok, {s.events} events, head {s.head}")
    if any(not s.ok for s in statuses):
        return 1
    if not verify_only:
        for s in statuses:
            print(f"{s.reader}: {len(s.decisions)}/{s.planned} decisions")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from core.readerstudy.export import export_reads

    for s in export_reads(args.study, args.out):
        log.info(
            "%s: %d/%d decisions, log head %s", s.reader, len(s.decisions), s.planned, s.head or "-"
        )
    log.info(
        "reads written to %s (record the log heads above: they make later edits evident)", args.out
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = get_args_parser().parse_args(argv)
    command = shlex.join(["cnsight-study", *(sys.argv[1:] if argv is None else argv)])
    try:
        if args.command == "create":
            return run_create(args)
        if args.command in ("status", "verify"):
            return run_status(args, verify_only=args.command == "verify")
        if args.command == "export":
            return run_export(args)
        analysis = run_analyze(args, command)
    except CNSightError as e:
        log.error("%s", e)
        return 2
    except OSError as e:
        log.error("%s", e)
        return 2
    for d in analysis.obuchowski_rockette.rrrc.differences:
        low, high = d.test.ci
        log.info(
            "%s %s - %s: %.4f [%.4f, %.4f], p = %.4g (OR, random readers and cases)",
            args.fom, *d.treatments, d.test.estimate, low, high, d.test.p,
        )  # fmt: skip
    log.info("results in %s (analysis.json, report.html)", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
