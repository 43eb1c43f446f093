#!/usr/bin/env bash
# Debian/Ubuntu packages CNSight needs beyond what pip installs, including what a minimal
# Debian/Ubuntu (a container, a debootstrap --variant=minbase system) lacks: Python's venv
# module (Debian ships it apart, as python3.X-venv), make and certificates for pip, Qt's system
# libraries (on a display and offscreen), a font (Qt draws no text without one), Xvfb for the
# real window headless, dpkg-deb's compressor plus desktop-file-validate for `make package`, a PACS
# server the tests start on loopback (Orthanc + its DICOMweb plugin; the package's own service is
# not used: docs/pacs.md), dciodvfy / dcmtk to validate and dump what we send, and Tesseract OCR
# for burned-in text.
# Skips apt when everything is present. PYTHON (default python3) is the interpreter the venv
# will be made from. Tested in a fresh debootstrap chroot (docs/packaging.md).
set -euo pipefail
PYTHON=${PYTHON:-python3}
PKGS=(make ca-certificates
      libegl1 libgl1 libfontconfig1 libfreetype6 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
      libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libx11-xcb1
      libglib2.0-0 fonts-dejavu-core
      xvfb xauth
      xz-utils desktop-file-utils
      orthanc orthanc-dicomweb dicom3tools dcmtk
      tesseract-ocr tesseract-ocr-eng)
# Python: the interpreter itself when missing, and its venv package when `-m venv` cannot work.
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  PKGS+=(python3 python3-venv)
elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  PKGS+=("python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv")
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-system-deps: not a Debian/Ubuntu system (no dpkg); install the equivalents of:" >&2
  echo "  ${PKGS[*]}" >&2
  exit 0
fi
installed() {
  # libglib2.0-0 is libglib2.0-0t64 on Ubuntu 24.04 / Debian 13 (the 64-bit time_t rename).
  local p
  for p in "$1" "${1}t64"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && return 0
  done
  return 1
}
missing=()
for p in "${PKGS[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages missing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-system-deps: run as root, or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
# A name apt does not know (a t64 rename) is retried as NAMEt64.
for i in "${!missing[@]}"; do
  p=${missing[$i]}
  if ! apt-cache show "$p" >/dev/null 2>&1 && apt-cache show "${p}t64" >/dev/null 2>&1; then
    missing[$i]="${p}t64"
  fi
done
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
