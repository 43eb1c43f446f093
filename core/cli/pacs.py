"""cnsight-pacs: talk to a PACS from scripts.

    cnsight-pacs echo  NODE-OPTIONS
    cnsight-pacs find  NODE-OPTIONS [--patient-name N] [--patient-id ID] [--date-from YYYYMMDD]
                       [--date-to YYYYMMDD] [--modality US] [--accession A] [--study-uid UID]
                       [--via cfind|qido]                       -> CSV on stdout
    cnsight-pacs get   NODE-OPTIONS STUDY_UID... [--method move|get|wadors] [--cache DIR]
                       [--cache-limit-mb MB] [--refresh]         -> one line per study: its folder
    cnsight-pacs send  NODE-OPTIONS PATH... [--method store|stow]

NODE-OPTIONS: ``--node NAME`` (from the nodes file, ``--nodes FILE``, default
``~/.config/CNSight/pacs-nodes.json``, the file the app edits) and/or the node's fields given
directly (``--host``, ``--port``, ``--aet``, ``--our-aet``, ``--our-port``, ``--dicomweb``,
``--timeout``, ``--tls``...); fields given directly override the named node's. docs/pacs.md.
Exit codes: 0 done, 2 any error (one clear message on stderr).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import threading
from dataclasses import fields, replace
from pathlib import Path

from core import RESEARCH_USE_ONLY
from core.errors import CNSightError
from core.pacs import transfer
from core.pacs.cache import StudyCache
from core.pacs.nodes import PacsConfig, PacsNode, default_nodes_file, load_config
from core.pacs.query import StudyQuery, StudyRecord

log = logging.getLogger("cnsight.pacs")

#: Columns of ``find``'s CSV (docs/cli.md).
FIND_COLUMNS = tuple(f.name for f in fields(StudyRecord))


def _node_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("node (a named node from the nodes file and/or its fields)")
    g.add_argument(
        "--nodes", type=Path, metavar="FILE", help=f"nodes file (default: {default_nodes_file()})"
    )
    g.add_argument("--node", metavar="NAME", help="a node of the nodes file")
    g.add_argument("--host", help="the PACS's host name or address")
    g.add_argument("--port", type=int, help="the PACS's DICOM port (default 104)")
    g.add_argument("--aet", help="the PACS's AE title (called AE title)")
    g.add_argument("--our-aet", help="our AE title, as registered on the PACS (default CNSIGHT)")
    g.add_argument("--our-port", type=int, help="our Storage SCP port for C-MOVE (default 11112)")
    g.add_argument("--dicomweb", metavar="URL", help="DICOMweb base URL (QIDO/WADO/STOW-RS)")
    g.add_argument(
        "--timeout", type=float, metavar="S", help="seconds to wait for any reply (default 30)"
    )
    g.add_argument("--tls", action="store_true", default=None, help="DICOM TLS to the PACS")
    g.add_argument("--tls-ca", metavar="PEM", help="CA (or PACS certificate) to trust")
    g.add_argument("--tls-cert", metavar="PEM", help="our client certificate")
    g.add_argument("--tls-key", metavar="PEM", help="our client certificate's key")
    return p


def get_args_parser() -> argparse.ArgumentParser:
    node = _node_options()
    p = argparse.ArgumentParser(
        prog="cnsight-pacs",
        description="Query, retrieve and send studies to a PACS (DIMSE or DICOMweb). "
        + RESEARCH_USE_ONLY,
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "echo", parents=[node], help="test the connection (C-ECHO; QIDO-RS if a URL is set)"
    )
    f = sub.add_parser("find", parents=[node], help="study-level search; CSV on stdout")
    f.add_argument("--patient-name", default="", help="wildcards * and ? allowed, e.g. 'DOE*'")
    f.add_argument("--patient-id", default="")
    f.add_argument("--date-from", default="", metavar="YYYYMMDD")
    f.add_argument("--date-to", default="", metavar="YYYYMMDD")
    f.add_argument("--modality", default="", help="a modality in the study, e.g. US")
    f.add_argument("--accession", default="")
    f.add_argument("--study-uid", default="")
    f.add_argument(
        "--via",
        choices=transfer.SEARCH_METHODS,
        help="default: cfind if the node has a DICOM address",
    )
    g = sub.add_parser("get", parents=[node], help="retrieve studies into the local cache")
    g.add_argument("study_uids", nargs="+", metavar="STUDY_UID")
    g.add_argument("--method", choices=transfer.RETRIEVE_METHODS, default="move")
    g.add_argument(
        "--cache", type=Path, metavar="DIR", help="cache folder (default: the nodes file's)"
    )
    g.add_argument("--cache-limit-mb", type=float, metavar="MB", help="cache size limit")
    g.add_argument("--refresh", action="store_true", help="retrieve again even if cached")
    s = sub.add_parser("send", parents=[node], help="send DICOM files (folders searched)")
    s.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    s.add_argument("--method", choices=transfer.SEND_METHODS, default="store")
    return p


def resolve_node(args: argparse.Namespace, config: PacsConfig) -> PacsNode:
    """The named node with the fields given on the command line applied over it."""
    base = config.node(args.node) if args.node else PacsNode(name="command-line")
    direct = {
        "host": args.host,
        "port": args.port,
        "ae_title": args.aet,
        "our_ae_title": args.our_aet,
        "our_port": args.our_port,
        "dicomweb_url": args.dicomweb,
        "timeout_s": args.timeout,
    }
    tls_direct = {
        "enabled": args.tls,
        "ca_file": args.tls_ca,
        "cert_file": args.tls_cert,
        "key_file": args.tls_key,
    }
    tls = replace(base.tls, **{k: v for k, v in tls_direct.items() if v is not None})
    if any(tls_direct.values()):  # a TLS file given means TLS is wanted
        tls = replace(tls, enabled=True)
    node = replace(base, tls=tls, **{k: v for k, v in direct.items() if v is not None})
    if not node.has_dimse and not node.dicomweb_url:
        raise CNSightError(
            "no PACS node given: use --node NAME (nodes file) or --host, --port and --aet "
            "(and/or --dicomweb URL)"
        )
    return node


def _progress(quiet: bool, what: str):
    def report(done: int, total: int | None) -> None:
        if not quiet:
            print(
                f"\r{what}: {done}/{total if total is not None else '?'}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    return report


def run(args: argparse.Namespace) -> int:
    config = load_config(args.nodes)
    node = resolve_node(args, config)
    if args.command == "echo":
        print(transfer.test_connection(node))
        return 0
    if args.command == "find":
        query = StudyQuery(
            patient_name=args.patient_name, patient_id=args.patient_id,
            date_from=args.date_from, date_to=args.date_to, modality=args.modality,
            accession=args.accession, study_uid=args.study_uid,
        )  # fmt: skip
        studies = transfer.search(node, query, args.via)
        writer = csv.DictWriter(sys.stdout, fieldnames=FIND_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for study in studies:
            writer.writerow(
                {
                    c: getattr(study, c) if getattr(study, c) is not None else ""
                    for c in FIND_COLUMNS
                }
            )
        return 0
    if args.command == "get":
        settings = config.cache
        cache = StudyCache(
            args.cache or settings.path,
            int(args.cache_limit_mb * 1_000_000) if args.cache_limit_mb else settings.limit_bytes,
        )
        for uid in args.study_uids:
            study = transfer.retrieve(
                node, uid, cache, args.method, _progress(args.quiet, uid), threading.Event(),
                refresh=args.refresh,
            )  # fmt: skip
            if not args.quiet:
                print(file=sys.stderr)
            print(f"{study.study_uid}\t{study.instances}\t{study.n_instances}")
        if not args.quiet:
            print(cache.describe(), file=sys.stderr)
        return 0
    report = transfer.send(node, args.paths, args.method, _progress(args.quiet, "sent"))
    if not args.quiet:
        print(file=sys.stderr)
    print(f"sent {len(report.sent)} files; series: {' '.join(report.series_uids)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # its errors are ours, reworded
    args = get_args_parser().parse_args(argv)
    try:
        return run(args)
    except (CNSightError, OSError) as exc:
        if not args.quiet:
            print(file=sys.stderr)
        print(f"cnsight-pacs: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
