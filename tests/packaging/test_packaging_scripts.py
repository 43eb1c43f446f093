"""The packaging scripts' logic, fast (no PyInstaller build): the .deb's control file, desktop
entry, icons and layout, a real dpkg install + purge of a tiny package into a temporary root,
the entry point's roles, the size report, and the Python version check's messages.
The real build and its smoke test are `make package` (docs/packaging.md), never run here."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load(name: str):
    """A packaging/ script as a module (packaging/ is no package: the name is PyPI's)."""
    spec = importlib.util.spec_from_file_location(f"cnsight_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


make_deb = load("make_deb")
entry = load("entry")
size_report = load("size_report")

needs_dpkg = pytest.mark.skipif(
    not (shutil.which("dpkg-deb") and shutil.which("dpkg")), reason="needs dpkg and dpkg-deb"
)


def package(**kw) -> object:
    fields = dict(name="cnsight", version="0.1.0", flavour="cpu", arch="amd64", installed_kib=1234,
                  depends=("libegl1", "libglib2.0-0", "libc6"), maintainer="M <m@example.org>")  # fmt: skip
    return make_deb.Package(**(fields | kw))


def control_fields(text: str) -> dict[str, str]:
    fields, key = {}, None
    for line in text.splitlines():
        if line.startswith(" "):
            fields[key] += "\n" + line
        else:
            key, value = line.split(": ", 1)
            fields[key] = value
    return fields


def test_control_file_fields_depends_and_the_other_flavour():
    fields = control_fields(make_deb.control_text(package()))
    assert fields["Package"] == "cnsight" and fields["Version"] == "0.1.0"
    assert fields["Architecture"] == "amd64" and fields["Installed-Size"] == "1234"
    # libc6 is implicit; glib has its 64-bit time_t name as an alternative; sorted
    assert fields["Depends"] == "libegl1, libglib2.0-0 | libglib2.0-0t64"
    assert fields["Conflicts"] == fields["Replaces"] == "cnsight-cuda"
    assert "Research use only" in fields["Description"]
    cuda = control_fields(make_deb.control_text(package(name="cnsight-cuda", flavour="cuda")))
    assert cuda["Conflicts"] == "cnsight" and "CUDA build" in cuda["Description"]
    assert make_deb.deb_filename(package()) == "cnsight_0.1.0_amd64.deb"
    assert make_deb.package_name("cuda") == "cnsight-cuda"


def test_desktop_entry_runs_the_command_with_files_and_names_the_icon(tmp_path):
    text = make_deb.desktop_entry()
    lines = text.splitlines()
    assert lines[0] == "[Desktop Entry]"
    assert "Exec=cnsight %F" in lines and "Icon=cnsight" in lines and "Terminal=false" in lines
    if shutil.which("desktop-file-validate"):
        path = tmp_path / "cnsight.desktop"
        path.write_text(text)
        res = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert res.returncode == 0 and not res.stdout.strip(), res.stdout


def test_icons_svg_required_pngs_by_size(tmp_path):
    with pytest.raises(SystemExit, match="cnsight.svg is missing"):
        make_deb.icon_files(tmp_path)
    (tmp_path / "cnsight.svg").write_text("<svg/>")
    (tmp_path / "cnsight-48.png").write_bytes(b"png")
    (tmp_path / "cnsight-large.png").write_bytes(b"ignored: no size in the name")
    assert set(make_deb.icon_files(tmp_path)) == {
        "usr/share/icons/hicolor/scalable/apps/cnsight.svg",
        "usr/share/icons/hicolor/48x48/apps/cnsight.png",
    }
    shipped = make_deb.icon_files(ROOT / "resources" / "icons")  # the real icon set
    assert "usr/share/icons/hicolor/256x256/apps/cnsight.png" in shipped


def fake_app(tmp_path: Path) -> Path:
    """A one-folder 'app': a shell script that prints its name and arguments, and one data file."""
    app = tmp_path / "dist" / "cnsight"
    (app / "_internal").mkdir(parents=True)
    (app / "cnsight").write_text('#!/bin/sh\necho "$(basename "$0") $*"\n')
    (app / "cnsight").chmod(0o755)
    (app / "_internal" / "data.txt").write_text("x" * 5000)
    return app


@needs_dpkg
def test_deb_installs_into_a_temporary_root_runs_and_purges_clean(tmp_path):
    app = fake_app(tmp_path)
    deb = Path(
        subprocess.run(
            [sys.executable, str(PACKAGING / "make_deb.py"), "--app", str(app), "--flavour",
             "cpu", "--version", "9.8.7", "--icon-dir", str(ROOT / "resources" / "icons"),
             "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"),
             "--compression", "gzip"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    assert deb.name == "cnsight_9.8.7_amd64.deb" and deb.is_file()
    assert not (tmp_path / "work" / "root").exists()  # the staging tree is removed
    info = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True).stdout
    assert "Package: cnsight\n" in info and "Version: 9.8.7\n" in info
    assert "Depends:" not in info  # a shell script loads no libraries
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    assert "root/root" in listing and "./opt/cnsight/_internal/data.txt" in listing
    assert "./usr/bin/cnsight-predict -> ../../opt/cnsight/cnsight" in listing

    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").touch()
    dpkg = ["dpkg", f"--root={root}", "--force-not-root", "--log=/dev/null"]
    subprocess.run([*dpkg, "--install", str(deb)], check=True, capture_output=True)
    assert (root / "usr/share/applications/cnsight.desktop").is_file()
    assert (root / "usr/share/icons/hicolor/scalable/apps/cnsight.svg").is_file()
    assert (root / "usr/share/doc/cnsight/README.packaging.md").is_file()
    for command in ("cnsight", "cnsight-predict", "cnsight-study"):
        out = subprocess.run([str(root / "usr/bin" / command), "a"], capture_output=True, text=True)
        assert out.stdout.strip() == f"{command} a"  # the link keeps the name it was started as
    subprocess.run([*dpkg, "--purge", "cnsight"], check=True, capture_output=True)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if "var/lib/dpkg" not in str(p))
    assert left == ["var", "var/lib"]


def test_make_deb_refuses_a_folder_without_the_executable(tmp_path):
    (tmp_path / "app").mkdir()
    with pytest.raises(SystemExit, match="no cnsight executable"):
        make_deb.main(["--app", str(tmp_path / "app"), "--flavour", "cpu", "--version", "1",
                       "--icon-dir", str(ROOT / "resources/icons"), "--work", str(tmp_path / "w"),
                       "--out", str(tmp_path / "o")])  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/usr/bin/cnsight"], ("app", [])),
        (["/usr/bin/cnsight", "--demo"], ("app", ["--demo"])),
        (["/opt/cnsight/cnsight", "predict", "x", "--out", "y"], ("predict", ["x", "--out", "y"])),
        (["/usr/bin/cnsight-predict", "x"], ("predict", ["x"])),
        (["cnsight-study", "analyze", "--reads", "r"], ("study", ["analyze", "--reads", "r"])),
        (["cnsight", "study", "verify", "s"], ("study", ["verify", "s"])),
        (["cnsight", "somefolder/predict"], ("app", ["somefolder/predict"])),
    ],
)
def test_entry_point_role_from_name_or_subcommand(argv, expected):
    assert entry.role_and_args(argv) == expected


def test_size_report_groups_by_package_biggest_first(tmp_path):
    app = tmp_path / "cnsight"
    (app / "_internal" / "torch" / "lib").mkdir(parents=True)
    (app / "_internal" / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"\0" * 3_000_000)
    (app / "_internal" / "PySide6").mkdir()
    (app / "_internal" / "PySide6" / "QtCore.abi3.so").write_bytes(b"\0" * 2_000_000)
    (app / "_internal" / "libpython3.11.so.1.0").write_bytes(b"\0" * 1_500_000)
    (app / "cnsight").write_bytes(b"\0" * 1000)
    text = size_report.report(app, "T")
    lines = text.splitlines()
    assert lines[0].startswith("T: 6 MB unpacked in 4 files")
    groups = [line.split()[-1] for line in lines[3:6]]
    assert groups == ["torch", "PySide6", "files)"]  # "(loose .so files)"
    first = lines.index("the 15 biggest files:") + 1
    assert lines[first].endswith("_internal/torch/lib/libtorch_cpu.so")  # the biggest first
    assert size_report.main([str(tmp_path / "missing")]) == 2


def run_check_python(interpreter: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "check-python.sh"), interpreter],
        capture_output=True,
        text=True,
    )


def test_python_check_accepts_this_python_and_explains_the_others(tmp_path):
    assert run_check_python(sys.executable).returncode == 0
    missing = run_check_python(str(tmp_path / "no-such-python"))
    assert missing.returncode == 1 and "is not installed" in missing.stderr
    old = tmp_path / "python3.10"  # answers like a 3.10: the version test fails
    old.write_text('#!/bin/sh\ncase "$1" in -V) echo "Python 3.10.12";; *) exit 1;; esac\n')
    old.chmod(0o755)
    res = run_check_python(str(old))
    assert res.returncode == 1
    assert "needs Python >= 3.11" in res.stderr and "Python 3.10.12" in res.stderr
    assert "make PYTHON=python3.11" in res.stderr
    no_venv = tmp_path / "python3.12"  # new enough, but without ensurepip (Debian's split)
    no_venv.write_text(
        '#!/bin/sh\ncase "$2" in *version_info\\ \\<*) exit 0;; *ensurepip*) exit 1;;'
        " *) echo 3.12;; esac\n"
    )
    no_venv.chmod(0o755)
    res = run_check_python(str(no_venv))
    assert res.returncode == 1 and "apt-get install python3.12-venv" in res.stderr, res.stderr


def test_build_refuses_an_unknown_flavour():
    res = subprocess.run(
        ["bash", str(PACKAGING / "build.sh"), "gpu"],
        capture_output=True,
        text=True,
        env=dict(os.environ, BUILD_DIR="/nonexistent-never-made"),
    )
    assert res.returncode == 2 and "unknown flavour 'gpu'" in res.stderr
    assert not Path("/nonexistent-never-made").exists()
