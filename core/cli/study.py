"""cnsight-study: reader-study tools for the study coordinator.

    cnsight-study create STUDY --data MANIFEST_OR_DIR --readers R1,R2,... [--model BUNDLE]
                         [--washout-days 28] [--seed 0] [--title TEXT] [--classes ...]
                         [--coordinator DIR]
    cnsight-study status STUDY [--coordinator DIR]   progress of every reader, log heads
    cnsight-study verify STUDY [--coordinator DIR]   every log checked, read-only (exit 1 if one fails)
    cnsight-study witness STUDY [--coordinator DIR]  verify, then record every log's head
    cnsight-study backup STUDY --out DIR             a consistent copy of every log (SQLite backup)
    cnsight-study export STUDY --out READS.csv [--imrmc F.imrmc] [--rjafroc F.xlsx] [--coordinator DIR]
    cnsight-study convert --reads READS.csv [--imrmc F.imrmc] [--rjafroc F.xlsx]
    cnsight-study analyze --reads READS.csv --out DIR [--fom ...] [--covariance ...]
    cnsight-study size PILOT --effect D [--power 0.8] [--readers 4,6,8,10] [--cases K]

Readers read in the app: ``cnsight --study STUDY --reader R1``. ``analyze`` runs the standard
MRMC analyses (Obuchowski-Rockette with Hillis df, and DBM) on long-format reads - columns
``reader,treatment,case,truth,rating``, the format MRMCaov, RJafroc and iMRMC read - and writes
``DIR/analysis.json`` and ``DIR/report.html``; with the columns ``export`` writes it also
analyses the class call, reading time, the AI alone against the readers and automation bias.
``size`` sizes the next study from a pilot's OR variance components. The coordinator's folder (truth labels, patient
ids, the study key, witnessed heads; default ``STUDY.coordinator`` beside the study) stays with
the coordinator: readers open STUDY only (docs/reader-study.md). Exit codes: 0 done,
1 verification failed (any integrity failure: a log, the protocol or the truth file), 2 bad
input (one clear message).
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
from core.mrmc import load_reads
from core.mrmc.covariance import METHODS
from core.mrmc.fom import RATING_FOMS, Fom
from core.mrmc.study_analysis import StudyAnalysis, analyze_study
from core.mrmc.study_reads import load_study_reads
from core.mrmc.study_report import write_study_report

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
    c.add_argument(
        "--design",
        default="crossover",
        choices=["crossover", "sequential"],
        help="crossover: unaided and aided blocks apart by the washout (default); sequential "
        "(second read): every case read unaided, then with the AI output, in one sitting",
    )
    c.add_argument(
        "--practice",
        type=int,
        default=0,
        metavar="N",
        help="N of the patients become practice cases read first, with the truth shown after "
        "each decision (their truth is in protocol.json; never analysed). Default 0",
    )
    c.add_argument("--seed", type=int, default=0, help="seed of the reading orders")
    c.add_argument("--title", default="")
    c.add_argument("--classes", default=None, help="class names (default: the model's)")
    coordinator_help = "the coordinator's folder (default: STUDY.coordinator beside STUDY)"
    c.add_argument("--coordinator", type=Path, default=None, help=coordinator_help + ", created")
    for name, text in (
        ("status", "progress of every reader"),
        ("verify", "check every reading log (read-only): chain, study-key MACs, protocol rules"),
        ("witness", "verify, then record every log's head in the coordinator's folder"),
    ):
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("study", type=Path)
        sp.add_argument("--coordinator", type=Path, default=None, help=coordinator_help)
    b = sub.add_parser(
        "backup",
        help="copy every reading log as one consistent snapshot (SQLite backup API)",
        description="Copy STUDY/protocol.json and every reads/*.sqlite into OUT with the SQLite "
        "backup API: decisions still in a log's -wal file are included, and a copy taken while "
        "a reader is reading is consistent. OUT must not exist.",
    )
    b.add_argument("study", type=Path)
    b.add_argument("--out", type=Path, required=True, help="backup folder to create")
    e = sub.add_parser(
        "export",
        help="write the long-format reads CSV of all decisions (and the iMRMC / RJafroc files)",
    )
    e.add_argument("study", type=Path)
    e.add_argument("--out", type=Path, required=True, help="reads CSV to write")
    e.add_argument("--coordinator", type=Path, default=None, help=coordinator_help)
    _format_args(e)
    v = sub.add_parser(
        "convert",
        help="write a long-format reads CSV as iMRMC and/or RJafroc input",
        description="Write READS.csv (reader,treatment,case,truth,rating) in the input formats "
        "of iMRMC (.imrmc) and RJafroc (Excel); integer ids, their map beside each file.",
    )
    v.add_argument("--reads", type=Path, required=True, help="long-format reads CSV")
    _format_args(v)
    a = sub.add_parser(
        "analyze",
        help="MRMC analysis of long-format reads (OR with Hillis df, DBM)",
        description="MRMC analysis of reads (columns reader,treatment,case,truth,rating; truth "
        "0 = normal, 1 = abnormal; higher rating = more confident abnormal). Writes "
        "OUT/analysis.json and OUT/report.html.",
    )
    a.add_argument("--reads", type=Path, required=True, help="long-format reads CSV")
    a.add_argument("--out", type=Path, required=True, help="output folder (created)")
    a.add_argument(
        "--fom", default="auc", choices=list(RATING_FOMS), help="figure of merit (default auc)"
    )
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
    z = sub.add_parser(
        "size",
        help="readers and cases a study needs, from a pilot's OR variance components",
        description="Power and cases needed for a two-treatment study analysed by OR with random "
        "readers and cases (Hillis, Obuchowski & Berbaum 2011), from a pilot: its analysis.json "
        "(cnsight-study analyze) or its reads CSV.",
    )
    z.add_argument("pilot", type=Path, help="the pilot's analysis.json or reads CSV")
    z.add_argument(
        "--effect", type=float, default=None,
        help="difference of the figure of merit to detect (default: the pilot's observed one)",
    )  # fmt: skip
    z.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    z.add_argument("--alpha", type=float, default=0.05, help="test size (default 0.05)")
    z.add_argument(
        "--readers",
        default="3,4,5,6,8,10,15",
        help="reader counts to size (default 3,4,5,6,8,10,15)",
    )
    z.add_argument("--cases", type=int, default=None, help="also the power with this many cases")
    z.add_argument("--out", type=Path, default=None, help="write the table as JSON here")
    return p


def _format_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--imrmc", type=Path, default=None, help="also write iMRMC input (.imrmc) here")
    p.add_argument(
        "--rjafroc",
        type=Path,
        default=None,
        help="also write RJafroc's Excel ROC file (.xlsx) here",
    )


def _write_formats(args: argparse.Namespace, reads_csv: Path) -> None:
    from core.mrmc.formats import write_imrmc, write_rjafroc_xlsx

    if args.imrmc is None and args.rjafroc is None:
        return
    reads = load_reads(reads_csv)
    if args.imrmc is not None:
        if args.imrmc.suffix != ".imrmc":
            raise CNSightError(f"--imrmc {args.imrmc}: iMRMC and RJafroc need the .imrmc suffix")
        ids = write_imrmc(args.imrmc, reads)
        log.info("iMRMC input written to %s (integer ids: %s)", args.imrmc, ids)
    if args.rjafroc is not None:
        if args.rjafroc.suffix != ".xlsx":
            raise CNSightError(f"--rjafroc {args.rjafroc}: RJafroc reads an .xlsx file")
        ids = write_rjafroc_xlsx(args.rjafroc, reads)
        log.info("RJafroc Excel file written to %s (integer ids: %s)", args.rjafroc, ids)


def run_analyze(args: argparse.Namespace, command: str) -> StudyAnalysis:
    """Analyse the reads; write OUT/analysis.json (provenance first, then the analysis) and
    OUT/report.html."""
    if not 0 < args.alpha < 1:
        raise CNSightError(f"--alpha must be between 0 and 1, got {args.alpha}")
    reads = load_study_reads(args.reads)
    analysis = analyze_study(reads, Fom(args.fom, args.threshold), args.covariance, args.alpha)
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
    write_study_report(args.out / "report.html", analysis, source=str(args.reads))
    return analysis


def run_size(args: argparse.Namespace) -> int:
    from core.mrmc.sample_size import PilotComponents, cases_needed, power

    for name, value in (("--power", args.power), ("--alpha", args.alpha)):
        if not 0 < value < 1:
            raise CNSightError(f"{name} must be between 0 and 1, got {value}")
    try:
        counts = [int(r) for r in args.readers.split(",")]
    except ValueError:
        raise CNSightError(f"--readers {args.readers!r}: comma-separated numbers") from None
    if any(r < 2 for r in counts) or (args.cases is not None and args.cases < 2):
        raise CNSightError("a study needs at least 2 readers and 2 cases")
    if not args.pilot.is_file():
        raise CNSightError(f"{args.pilot}: no such file (an analysis.json or a reads CSV)")
    if args.pilot.suffix == ".json":
        try:
            d = json.loads(args.pilot.read_text(encoding="utf-8"))
            pilot = PilotComponents.from_analysis_json(d)
            observed = d["obuchowski_rockette"]["rrrc"]["differences"][0]["estimate"]
        except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
            raise CNSightError(
                f"{args.pilot}: not an analysis.json of cnsight-study analyze ({e!r})"
            ) from None
    else:
        from core.mrmc import analyze

        rating = analyze(load_reads(args.pilot))
        c = rating.obuchowski_rockette.variance_components
        pilot = PilotComponents(rating.design.cases, c.var_tr, c.var_error, c.cov1, c.cov2, c.cov3)
        observed = rating.obuchowski_rockette.rrrc.differences[0].test.estimate
    effect = args.effect if args.effect is not None else observed
    if not effect:
        raise CNSightError("the effect to detect is 0: give --effect")
    print(
        f"pilot: {pilot.cases} cases, Var(T*R) {pilot.var_tr:.3g}, Var {pilot.var_error:.3g}, "
        f"Cov1 {pilot.cov1:.3g}, Cov2 {pilot.cov2:.3g}, Cov3 {pilot.cov3:.3g}"
    )
    if pilot.var_tr < 0:
        print(f"warning: the pilot's Var(T*R) is negative ({pilot.var_tr:.3g}): clipped to 0")
    print(
        f"effect {abs(effect):.4g}, power {args.power:g}, alpha {args.alpha:g} (OR, random readers and cases)"
    )
    table = []
    for r in counts:
        need = cases_needed(pilot, r, effect, args.power, args.alpha)
        row = {
            "readers": r,
            "cases_needed": need.cases if need else None,
            "power": need.power if need else None,
        }
        if args.cases is not None:
            row["power_with_cases"] = power(pilot, r, args.cases, effect, args.alpha).power
        table.append(row)
        text = (
            f"{need.cases} cases (power {need.power:.3f})"
            if need
            else "not reachable with any number of cases"
        )
        extra = (
            f"; with {args.cases} cases power {row['power_with_cases']:.3f}" if args.cases else ""
        )
        print(f"{r} readers: {text}{extra}")
    if args.out is not None:
        args.out.write_text(json.dumps({"effect": effect, "power": args.power, "alpha": args.alpha, "pilot": pilot.__dict__, "table": table}, indent=2) + "\n", encoding="utf-8")  # fmt: skip
    return 0


def run_create(args: argparse.Namespace) -> int:
    from core.bundle import load_bundle
    from core.discovery import discover
    from core.readerstudy.privacy import burned_in_patients
    from core.readerstudy.protocol import create_protocol, default_coordinator_dir, save_protocol
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
    model = {
        "path": str(model_dir),
        "seal_sha256": card.seal_sha256,
        "weights_sha256": card.weights_sha256,
        "name": card.name,
    }
    if card.signer:
        model["signer"] = card.signer
    data_dir = args.data.resolve() if args.data.is_dir() else args.data.resolve().parent
    protocol = create_protocol(
        study.patients, data, args.readers.split(","), names, model,
        seed=args.seed, washout_days=args.washout_days, title=args.title, data_dir=data_dir,
        design=args.design, practice=args.practice,
    )  # fmt: skip
    burned = burned_in_patients(study.patients)
    if burned:
        log.warning(
            "%d of %d cases have text burned into their pixels (DICOM Burned In Annotation = YES); "
            "the reading window masks the header band, the area outside the ultrasound region and "
            "the text OCR finds inside it, but OCR misses some - run cnsight-anonymise on the data "
            "first if readers could recognise cases by it",
            len(burned), len(study.patients),
        )  # fmt: skip
    normal = sum(c.truth == protocol.normal_class for c in protocol.cases)
    if min(normal, len(protocol.cases) - normal) < 2:  # what export and analyze refuse
        log.warning(
            "the %d study cases hold %d normal and %d abnormal: the ROC analysis (export, "
            "analyze) needs at least 2 of each - add cases%s before the readers start",
            len(protocol.cases), normal, len(protocol.cases) - normal,
            " or draw fewer practice cases" if protocol.practice_cases else "",
        )  # fmt: skip
    path = save_protocol(protocol, args.study, args.coordinator)
    log.info(
        "study %s (%s): %d cases + %d practice, readers %s, washout %g days -> %s",
        protocol.study_id, protocol.design, len(protocol.cases), len(protocol.practice_cases),
        ", ".join(protocol.readers), protocol.washout_days, path,
    )  # fmt: skip
    log.info("readers start with: cnsight --study %s --reader %s", args.study, protocol.readers[0])
    log.info(
        "keep the coordinator's folder %s (truth labels, patient ids, the study key) away from "
        "the readers: they open %s only",
        args.coordinator or default_coordinator_dir(args.study), args.study,
    )  # fmt: skip
    return 0


def _statuses(args: argparse.Namespace, witness: bool = False):
    """Every reader's verified log; ``CNSightError`` for a folder that is not there (exit 2),
    ``_IntegrityFailure`` for a protocol or truth file that does not verify (exit 1)."""
    from core.readerstudy.audit import verify_study, witness_heads
    from core.readerstudy.protocol import default_coordinator_dir, load_protocol

    if not (args.study / "protocol.json").is_file():
        raise CNSightError(f"{args.study}: not a reader study (no protocol.json)")
    try:
        keyed = load_protocol(args.study)[0].keyed
    except CNSightError as e:
        raise _IntegrityFailure(str(e)) from None
    coordinator = args.coordinator or default_coordinator_dir(args.study)
    if keyed and not coordinator.is_dir():
        raise CNSightError(
            f"{coordinator}: no such folder - the coordinator's folder of this study (truth "
            "labels, the study key) is needed; name it with --coordinator DIR"
        )
    try:
        if witness:
            return witness_heads(args.study, args.coordinator)
        return verify_study(args.study, args.coordinator)[1]
    except CNSightError as e:
        raise _IntegrityFailure(str(e)) from None


class _IntegrityFailure(CNSightError):
    """The study's protocol or truth file does not verify (exit 1, as a failing log)."""


def run_status(args: argparse.Namespace, verify_only: bool = False, witness: bool = False) -> int:
    statuses = _statuses(args, witness)
    for s in statuses:
        if not s.started:
            print(f"{s.reader}: not started")
        elif not s.ok:
            print(f"{s.reader}: FAILS VERIFICATION - {s.problem}")
        else:
            how = "authenticated with the study key" if s.authenticated else "hash chain only"
            print(f"{s.reader}: log ok ({how}), {s.events} events, head {s.head}")
    if any(not s.ok for s in statuses):
        if witness:
            print("nothing witnessed: every log must verify first")
        return 1
    if witness:
        print(f"witnessed {sum(s.started for s in statuses)} log head(s)")
    if not verify_only:
        _print_progress(args.study, statuses)
    return 0


def _print_progress(study: Path, statuses) -> None:
    """Decisions per reader, and where a reader waits for the washout, when it ends."""
    import datetime as dt

    from core.readerstudy.protocol import load_protocol
    from core.readerstudy.session import WashoutPending, next_read

    protocol = load_protocol(study)[0]
    now = dt.datetime.now(dt.UTC)
    for s in statuses:
        done = {
            (e.payload["treatment"], e.payload["case_id"]): e.payload | {"ts": e.ts}
            for e in s.decisions
        }
        state = next_read(protocol, s.reader, done, now)
        line = f"{s.reader}: {len(s.decisions)}/{s.planned} decisions"
        if isinstance(state, WashoutPending):
            line += f", washout ends {state.available_at:%Y-%m-%d %H:%M} UTC ({state.treatment} block next)"
        print(line)


def run_export(args: argparse.Namespace) -> int:
    from core.readerstudy.export import export_reads

    for name, path, suffix in (
        ("--imrmc", args.imrmc, ".imrmc"),
        ("--rjafroc", args.rjafroc, ".xlsx"),
    ):
        if path is not None and path.suffix != suffix:
            raise CNSightError(f"{name} {path}: the file must end in {suffix}")
    for s in export_reads(args.study, args.out, args.coordinator):
        log.info(
            "%s: %d/%d decisions, log head %s", s.reader, len(s.decisions), s.planned, s.head or "-"
        )
    log.info(
        "reads written to %s (`cnsight-study witness` records the log heads: a later cut or "
        "rollback of a log is then detected)",
        args.out,
    )
    _write_formats(args, args.out)
    return 0


def run_backup(args: argparse.Namespace) -> int:
    from core.readerstudy.backup import backup_study

    copied = backup_study(args.study, args.out)
    for name, events in copied:
        log.info("%s: %d events", name, events)
    log.info("backup of %d log(s) in %s", len(copied), args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = get_args_parser().parse_args(argv)
    command = shlex.join(["cnsight-study", *(sys.argv[1:] if argv is None else argv)])
    try:
        if args.command == "create":
            return run_create(args)
        if args.command in ("status", "verify", "witness"):
            return run_status(
                args, verify_only=args.command != "status", witness=args.command == "witness"
            )
        if args.command == "export":
            return run_export(args)
        if args.command == "backup":
            return run_backup(args)
        if args.command == "convert":
            _write_formats(args, args.reads)
            return 0
        if args.command == "size":
            return run_size(args)
        analysis = run_analyze(args, command)
    except _IntegrityFailure as e:
        log.error("%s", e)
        return 1
    except CNSightError as e:
        log.error("%s", e)
        return 2
    except OSError as e:
        log.error("%s", e)
        return 2
    for w in analysis.warnings:
        log.warning("%s", w)
    for d in analysis.rating.obuchowski_rockette.rrrc.differences:
        low, high = d.test.ci
        log.info(
            "%s %s - %s: %.4f [%.4f, %.4f], p = %.4g (OR, random readers and cases)",
            args.fom, *d.treatments, d.test.estimate, low, high, d.test.p,
        )  # fmt: skip
    if analysis.class_call is not None:
        for d in analysis.class_call.accuracy_or.rrrc.differences:
            low, high = d.test.ci
            log.info(
                "class accuracy %s - %s: %.4f [%.4f, %.4f], p = %.4g", *d.treatments,
                d.test.estimate, low, high, d.test.p,
            )  # fmt: skip
    log.info("results in %s (analysis.json, report.html)", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
