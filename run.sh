#!/usr/bin/env bash
# One entry point that sets up a fresh machine and runs the main job or the tests.
#   ./run.sh demo   -> the whole flow on the embedded demo (regions -> predictions -> clusters -> figure)
#   ./run.sh test   -> the test suite
set -euo pipefail
cd "$(dirname "$0")"
VENV=${BAZENJI_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import bazenji, pytest" 2>/dev/null; then
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
