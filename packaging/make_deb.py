"""Build the CNSight Debian package from a PyInstaller one-folder app (docs/packaging.md).

    python packaging/make_deb.py --app DIST/cnsight --flavour cpu --version 0.1.0 \
        --icon-dir resources/icons --work WORKDIR --out OUTDIR      # prints the .deb's path

What the package holds:

    /opt/cnsight/                          the one-folder app (executable ``cnsight``)
    /usr/bin/cnsight, cnsight-predict, cnsight-study
                                           relative links to /opt/cnsight/cnsight (the entry point
                                           picks its role from the name it was started as)
    /usr/share/applications/cnsight.desktop
    /usr/share/icons/hicolor/{scalable,256x256,...}/apps/cnsight.{svg,png}
    /usr/share/doc/cnsight[-cuda]/README.packaging.md

No maintainer scripts: dpkg's own file list removes everything, and the desktop database and
icon caches are refreshed by the triggers of desktop-file-utils and the icon themes. The two
flavours are two packages (``cnsight``, ``cnsight-cuda``) that replace each other.

``Depends`` is computed like dpkg-shlibdeps does it: every system library the app's ELF files
load (``ldd``; the libraries shipped inside the folder are skipped) is mapped to the Debian
package holding it on the build machine (``dpkg -S``). Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INSTALL_DIR = "opt/cnsight"
COMMANDS = {"cnsight": "the reading app", "cnsight-predict": "batch prediction",
            "cnsight-study": "reader studies"}  # fmt: skip
# Packages every Linux system has (Essential / libc); not worth a Depends line.
IMPLICIT = {"libc6", "libgcc-s1", "libstdc++6", "libc-bin", "zlib1g"}
# Libraries renamed by the 64-bit time_t transition (Ubuntu 24.04, Debian 13): either name will do.
T64_RENAMED = {"libglib2.0-0", "libpng16-16", "libssl3", "libgnutls30", "libcurl4"}
DESCRIPTION = {
    "cpu": "CPU build (no GPU needed)",
    "cuda": "CUDA build (uses an NVIDIA GPU when present, else the CPU)",
}


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    flavour: str
    arch: str
    installed_kib: int
    depends: tuple[str, ...]
    maintainer: str


def package_name(flavour: str) -> str:
    return "cnsight" if flavour == "cpu" else f"cnsight-{flavour}"


def deb_filename(pkg: Package) -> str:
    return f"{pkg.name}_{pkg.version}_{pkg.arch}.deb"


def depends_field(packages: tuple[str, ...]) -> str:
    """``a, b | bt64, ...``: sorted, t64-renamed libraries with their new name as alternative."""
    out = []
    for name in sorted(set(packages) - IMPLICIT):
        out.append(f"{name} | {name}t64" if name in T64_RENAMED else name)
    return ", ".join(out)


def control_text(pkg: Package) -> str:
    others = sorted(package_name(f) for f in DESCRIPTION if package_name(f) != pkg.name)
    lines = [
        f"Package: {pkg.name}",
        f"Version: {pkg.version}",
        f"Architecture: {pkg.arch}",
        f"Maintainer: {pkg.maintainer}",
        f"Installed-Size: {pkg.installed_kib}",
    ]
    if pkg.depends:
        lines.append(f"Depends: {depends_field(pkg.depends)}")
    if others:
        lines += [f"Conflicts: {', '.join(others)}", f"Replaces: {', '.join(others)}"]
    lines += [
        "Section: science",
        "Priority: optional",
        f"Description: CNSight research reading tool for prenatal ultrasound, {DESCRIPTION[pkg.flavour]}",
        " CNSight classifies each prenatal ultrasound image as normal, anencephaly,",
        " encephalocele, holoprosencephaly or rachischisis with a local ResNet34, combines",
        " the images per patient and shows class-activation heatmaps; it also runs reader",
        " studies. Everything runs on this computer: nothing is downloaded at run time.",
        " .",
        " Research use only - not for diagnosis.",
        " .",
        " Installs the self-contained app under /opt/cnsight and the commands cnsight,",
        " cnsight-predict and cnsight-study.",
    ]
    return "\n".join(lines) + "\n"


def desktop_entry() -> str:
    """The freedesktop.org entry: opens files and folders given to it (``%F``)."""
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=CNSight",
            "GenericName=Ultrasound reading tool",
            "Comment=Prenatal ultrasound CNS anomaly classification with heatmaps (research use only)",
            "Exec=cnsight %F",
            "TryExec=cnsight",
            "Icon=cnsight",
            "Terminal=false",
            "Categories=Science;MedicalSoftware;",
            "MimeType=application/dicom;image/png;image/jpeg;image/tiff;image/bmp;",
            "Keywords=ultrasound;DICOM;prenatal;fetal;reader study;",
            "StartupNotify=true",
            "",
        ]
    )


def icon_files(icon_dir: Path) -> dict[str, Path]:
    """hicolor destinations -> source files: ``cnsight.svg`` as scalable, ``cnsight-N.png``
    as NxN. The SVG is required (every desktop scales it)."""
    svg = icon_dir / "cnsight.svg"
    if not svg.is_file():
        raise SystemExit(f"make_deb: no icon: {svg} is missing")
    out = {"usr/share/icons/hicolor/scalable/apps/cnsight.svg": svg}
    for png in sorted(icon_dir.glob("cnsight-*.png")):
        m = re.fullmatch(r"cnsight-(\d+)\.png", png.name)
        if m:
            n = m.group(1)
            out[f"usr/share/icons/hicolor/{n}x{n}/apps/cnsight.png"] = png
    return out


def elf_files(app: Path):
    for dirpath, _dirs, names in os.walk(app):
        for name in names:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def system_libraries(app: Path) -> set[str]:
    """Absolute paths of the libraries outside ``app`` that its ELF files load (ldd)."""
    libs: set[str] = set()
    inside = str(app.resolve())
    for elf in elf_files(app):
        # LD_LIBRARY_PATH: the app's own libraries resolve inside the folder, as when it runs.
        env = dict(os.environ, LD_LIBRARY_PATH=f"{inside}/_internal")
        res = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, env=env)
        for line in res.stdout.splitlines():
            m = re.search(r"=>\s+(/\S+)", line)
            if m and not os.path.realpath(m.group(1)).startswith(inside):
                libs.add(m.group(1))
    return libs


def owning_packages(paths: set[str]) -> set[str]:
    """Debian packages holding these files (``dpkg -S``; usrmerge-aware; ``:arch`` dropped)."""
    packages: set[str] = set()
    for path in sorted(paths):
        candidates = {path, os.path.realpath(path)}
        for p in list(candidates):  # /lib/x86_64-linux-gnu vs /usr/lib/x86_64-linux-gnu
            candidates.add(p[4:] if p.startswith("/usr/") else "/usr" + p)
        for p in sorted(candidates):
            res = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
            if res.returncode == 0:
                owner = res.stdout.split(":", 1)[0].split(",")[0].strip()
                packages.add(owner)
                break
        else:
            print(f"make_deb: warning: no Debian package holds {path}", file=sys.stderr)
    return packages


def stage(app: Path, icons: dict[str, Path], doc: Path | None, pkg: Package, root: Path) -> None:
    """Lay out the package tree under ``root`` (the app hard-linked, not copied)."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(app, root / INSTALL_DIR, symlinks=True, copy_function=os.link)
    bindir = root / "usr/bin"
    bindir.mkdir(parents=True)
    for command in COMMANDS:
        (bindir / command).symlink_to(f"../../{INSTALL_DIR}/cnsight")
    apps = root / "usr/share/applications"
    apps.mkdir(parents=True)
    (apps / "cnsight.desktop").write_text(desktop_entry())
    for dest, src in icons.items():
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / dest)
    if doc is not None:
        docdir = root / f"usr/share/doc/{pkg.name}"
        docdir.mkdir(parents=True)
        shutil.copyfile(doc, docdir / "README.packaging.md")
    debian = root / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(control_text(pkg))
    for dirpath, dirs, names in os.walk(root):  # dpkg-deb wants 0755 folders, no group writes
        for d in dirs:
            os.chmod(Path(dirpath) / d, 0o755)
        for n in names:
            p = Path(dirpath) / n
            if not p.is_symlink():
                os.chmod(p, p.stat().st_mode & 0o755 | 0o644)


def installed_kib(root: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        if "DEBIAN" in Path(dirpath).relative_to(root).parts[:1]:
            continue
        total += sum((Path(dirpath) / n).lstat().st_size for n in names)
    return (total + 1023) // 1024


def build(args: argparse.Namespace) -> Path:
    app = args.app.resolve()
    if not (app / "cnsight").is_file():
        raise SystemExit(f"make_deb: {app} is not the one-folder app (no cnsight executable)")
    icons = icon_files(args.icon_dir)
    depends = () if args.no_depends else tuple(owning_packages(system_libraries(app)))
    pkg = Package(package_name(args.flavour), args.version, args.flavour, args.arch, 0,
                  depends, args.maintainer)  # fmt: skip
    root = args.work / "root"
    stage(app, icons, args.doc, pkg, root)
    pkg = Package(**{**pkg.__dict__, "installed_kib": installed_kib(root)})
    (root / "DEBIAN/control").write_text(control_text(pkg))
    args.out.mkdir(parents=True, exist_ok=True)
    deb = args.out / deb_filename(pkg)
    cmd = [
        "dpkg-deb",
        "--root-owner-group",
        f"-Z{args.compression}",
        "--build",
        str(root),
        str(deb),
    ]
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, KeyboardInterrupt):
        deb.unlink(missing_ok=True)  # never leave a half-written package behind
        raise
    finally:
        shutil.rmtree(root)
    return deb


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Build the CNSight .deb from the one-folder app.")
    p.add_argument("--app", type=Path, required=True, help="PyInstaller one-folder app")
    p.add_argument("--flavour", choices=sorted(DESCRIPTION), required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--arch", default="amd64")
    p.add_argument("--icon-dir", type=Path, required=True, help="holds cnsight.svg, cnsight-N.png")
    p.add_argument("--doc", type=Path, default=Path(__file__).parents[1] / "docs/packaging.md")
    p.add_argument("--work", type=Path, required=True, help="scratch folder (emptied)")
    p.add_argument("--out", type=Path, required=True, help="folder for the .deb")
    p.add_argument("--compression", default="gzip", choices=["gzip", "xz", "zstd", "none"])
    p.add_argument("--no-depends", action="store_true", help="skip the ldd/dpkg -S scan")
    p.add_argument(
        "--maintainer",
        default=os.environ.get("CNSIGHT_DEB_MAINTAINER", "CNSight developers <cnsight@localhost>"),
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    print(build(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
