"""Runs every fuzz case through discovery, decoding and preprocessing in THIS process, under
an address-space limit, timing each and sampling its peak memory; one JSON line per case.

    python -m tests.fuzz.harness CASES.json OUT.jsonl [--limit-gb 2.5]
    python -m tests.fuzz.harness --build DIR OUT.jsonl   # build the corpus first, then run

Outcome per case: ``ok`` (at least one image read and prepared), ``error`` (refused with
CNSightError messages, nothing read), ``exception`` (anything else: a bug, with its
traceback). Lines are flushed as cases finish, so a hang shows which case it was.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import traceback
import warnings
from pathlib import Path

#: Images per case taken through decoding and preprocessing (a cine has many frames).
MAX_IMAGES_PER_CASE = 6
#: A case still running after this long is reported as a hang and the run stops.
HANG_SECONDS = 120.0


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * 4096


def limit_address_space(extra_gb: float) -> int:
    """Cap this process's address space at what it maps now plus ``extra_gb``: a bomb meets
    MemoryError instead of the machine's memory. Returns the limit in bytes."""
    limit = _vm_bytes() + int(extra_gb * (1 << 30))
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return limit


def run_case(case: dict, specs) -> dict:
    from core.discovery import discover
    from core.errors import CNSightError
    from core.imaging import read_image
    from core.preprocess import prepare

    messages, n_ok = [], 0
    try:
        cohort = discover([case["input"]])
        messages += [e.message for e in cohort.errors]
        for ref in cohort.images[:MAX_IMAGES_PER_CASE]:
            try:
                image = read_image(ref)
                for spec in specs:
                    prepare(image, spec)
                n_ok += 1
            except CNSightError as exc:
                messages.append(str(exc))
    except CNSightError as exc:
        messages.append(str(exc))
    except BaseException:  # noqa: BLE001 - the point of the harness: report, never crash
        return {"outcome": "exception", "messages": messages, "traceback": traceback.format_exc()}
    return {"outcome": "ok" if n_ok else "error", "messages": messages[:5], "n_ok": n_ok}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz.harness")
    p.add_argument("cases", type=Path, help="cases JSON (or, with --build, the corpus folder)")
    p.add_argument("out", type=Path, help="results, one JSON line per case")
    p.add_argument("--build", action="store_true", help="build the corpus at CASES first")
    p.add_argument("--limit-gb", type=float, default=2.5, help="address space above start")
    p.add_argument("--summary", action="store_true", help="print a table per category")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    import core.discovery  # noqa: F401 - imported before the limit is set
    import core.imaging  # noqa: F401
    from core.preprocess import PreprocessSpec
    from tests.fuzz.measure import peak_rss

    if args.build:
        from tests.fuzz.corpus import build_corpus

        cases = [c.to_dict() for c in build_corpus(args.cases)]
    else:
        cases = json.loads(args.cases.read_text())
    specs = [PreprocessSpec(resize=256, crop=224),
             PreprocessSpec(resize=256, crop=224, framing="resize_short_centre_crop")]  # fmt: skip
    limit = limit_address_space(args.limit_gb)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(json.dumps({"limit_bytes": limit, "n_cases": len(cases)}) + "\n")
        for case in cases:
            result: dict = {}
            with peak_rss() as peak:
                worker = threading.Thread(
                    target=lambda c=case, r=result: r.update(run_case(c, specs)), daemon=True
                )
                worker.start()
                worker.join(HANG_SECONDS)
            hung = worker.is_alive()
            if hung:
                result = {"outcome": "hang", "messages": []}
            line = {**case, **result, "seconds": round(peak.seconds, 4),
                    "extra_mb": round(peak.extra_mb, 1)}  # fmt: skip
            out.write(json.dumps(line, ensure_ascii=True) + "\n")
            out.flush()
            if hung:
                return 3
    if args.summary:
        print_summary(args.out)
    return 0


def print_summary(results: Path) -> None:
    """Per category: cases, refused, read, worst time and worst peak memory above start."""
    rows = [json.loads(line) for line in results.read_text().splitlines()[1:]]
    print(f"{'category':<14}{'cases':>6}{'refused':>9}{'read':>6}{'max s':>8}{'max MB':>8}")
    for category in dict.fromkeys(r["category"] for r in rows):
        mine = [r for r in rows if r["category"] == category]
        refused = sum(r["outcome"] == "error" for r in mine)
        read = sum(r["outcome"] == "ok" for r in mine)
        print(f"{category:<14}{len(mine):>6}{refused:>9}{read:>6}"
              f"{max(r['seconds'] for r in mine):>8.2f}{max(r['extra_mb'] for r in mine):>8.0f}")  # fmt: skip
    bad = [r["name"] for r in rows if r["outcome"] in ("exception", "hang")]
    print(f"{'all':<14}{len(rows):>6}{sum(r['outcome'] == 'error' for r in rows):>9}"
          f"{sum(r['outcome'] == 'ok' for r in rows):>6}"
          f"{max(r['seconds'] for r in rows):>8.2f}{max(r['extra_mb'] for r in rows):>8.0f}")  # fmt: skip
    print(f"exceptions or hangs: {bad or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
