"""cnsight-study: reader-study tools.

    cnsight-study analyze --reads READS.csv --out DIR [--fom auc|sensitivity|specificity]
                          [--threshold T] [--covariance jackknife|delong] [--alpha 0.05]

``analyze`` runs the standard MRMC analyses (Obuchowski-Rockette with Hillis df, and DBM) on
long-format reads - columns ``reader,treatment,case,truth,rating``, the format MRMCaov, RJafroc
and iMRMC read, so the same file can be checked in R - and writes ``DIR/analysis.json`` and
``DIR/report.html``. Exit codes: 0 done, 2 bad input (one clear message).
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from core import RESEARCH_USE_ONLY
from core.errors import CNSightError
from core.metrics import json_ready
from core.mrmc import analyze, load_reads
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


def run_analyze(args: argparse.Namespace, command: str) -> dict:
    if not 0 < args.alpha < 1:
        raise CNSightError(f"--alpha must be between 0 and 1, got {args.alpha}")
    reads = load_reads(args.reads)
    result = analyze(reads, Fom(args.fom, args.threshold), args.covariance, args.alpha)
    result = {
        "research_use_only": RESEARCH_USE_ONLY,
        "command": command,
        "source": str(args.reads),
    } | result
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "analysis.json").write_text(
        json.dumps(json_ready(result), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    write_report(args.out / "report.html", result)
    return result


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = get_args_parser().parse_args(argv)
    command = shlex.join(["cnsight-study", *(sys.argv[1:] if argv is None else argv)])
    try:
        result = run_analyze(args, command)
    except CNSightError as e:
        log.error("%s", e)
        return 2
    except OSError as e:
        log.error("cannot write results to %s: %s", args.out, e)
        return 2
    for d in result["obuchowski_rockette"]["rrrc"]["differences"]:
        low, high = d["ci"]
        log.info(
            "%s %s - %s: %.4f [%.4f, %.4f], p = %.4g (OR, random readers and cases)",
            args.fom, *d["treatments"], d["estimate"], low, high, d["p"],
        )  # fmt: skip
    log.info("results in %s (analysis.json, report.html)", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
