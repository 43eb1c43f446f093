"""What takes the space in a PyInstaller one-folder app: the total, then the biggest groups
(a package folder under _internal/, or a top-level file), biggest first, then the 15 biggest files.

    python packaging/size_report.py DIST/cnsight [--title TEXT]

Standard library only: runs with any Python >= 3.11, before or after the build's venv.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path


def group_of(rel: Path) -> str:
    """The group a file counts toward: ``_internal/torch/lib/x.so`` -> ``torch``, a
    ``torch.libs``-style vendored folder stays itself, loose files under _internal by kind."""
    parts = rel.parts
    if parts[0] != "_internal" or len(parts) == 1:
        return parts[0]
    if len(parts) == 2:  # a loose library or file directly under _internal
        name = parts[1]
        return "(loose .so files)" if ".so" in name else "(loose other files)"
    return parts[1]


def sizes(app: Path) -> tuple[Counter, list[tuple[int, str]]]:
    groups: Counter = Counter()
    files: list[tuple[int, str]] = []
    for dirpath, _dirs, names in os.walk(app):
        for name in names:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            size = path.stat().st_size
            rel = path.relative_to(app)
            groups[group_of(rel)] += size
            files.append((size, str(rel)))
    files.sort(reverse=True)
    return groups, files


def report(app: Path, title: str, top: int = 15) -> str:
    groups, files = sizes(app)
    total = sum(groups.values())
    mb = 1024 * 1024
    lines = [f"{title}: {total / mb:,.0f} MB unpacked in {len(files)} files ({app})", ""]
    lines.append(f"{'MB':>8}  {'share':>6}  group")
    for name, size in groups.most_common():
        if size < mb:
            break
        lines.append(f"{size / mb:8.1f}  {100 * size / total:5.1f}%  {name}")
    small = sum(s for s in groups.values() if s < mb)
    lines.append(f"{small / mb:8.1f}  {100 * small / total:5.1f}%  (groups under 1 MB)")
    lines += ["", f"the {top} biggest files:"]
    lines += [f"{size / mb:8.1f}  {rel}" for size, rel in files[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("app", type=Path, help="the one-folder app (the folder holding the executable)")
    p.add_argument("--title", default="CNSight")
    args = p.parse_args(argv)
    if not args.app.is_dir():
        print(f"size_report: {args.app} is not a folder", file=sys.stderr)
        return 2
    print(report(args.app, args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
