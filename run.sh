#!/usr/bin/env bash
# One entry point that sets up a fresh machine and runs the main job or the tests.
#   ./run.sh demo   -> the whole flow on the embedded demo (regions -> predictions -> clusters -> figure)
#   ./run.sh test   -> the test suite
set -euo pipefail
cd "$(dirname "$0")"
VENV=${BAZENJI_VENV:-.venv}
# Set up when bazenji is not importable or a requirement of it or of its test extra is missing or out of range.
# Read from the installed metadata: importing the library to check it would load torch, scanpy, zarr... (seconds).
# packaging comes with pytest; where it is missing the check fails and the venv is set up, as it should be.
venv_ready() {
  "$VENV/bin/python" - 2>/dev/null <<'PY'
import importlib.metadata as md
import importlib.util
import sys

from packaging.requirements import Requirement

if importlib.util.find_spec("bazenji") is None:
    sys.exit(1)
for req in map(Requirement, md.requires("bazenji") or []):
    if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", "test")):
        if not req.specifier.contains(md.version(req.name), prereleases=True):  # a missing one raises
            sys.exit(1)
PY
}
if [ ! -x "$VENV/bin/python" ] || ! venv_ready; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # the CPU wheel of torch first, so the package's `torch>=` range is already satisfied
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q -e ".[test,dev]"
fi
cmd=${1:-demo}; shift || true
case "$cmd" in
  demo) exec "$VENV/bin/bazenji" demo "$@" ;;
  test) exec "$VENV/bin/python" -m pytest "$@" ;;
  *) echo "usage: ./run.sh demo|test [args]" >&2; exit 2 ;;
esac
