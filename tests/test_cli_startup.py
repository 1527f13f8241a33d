"""The ``bazenji`` command starts without the library; ``import bazenji`` imports its subpackages on first use.

Each check runs in a fresh interpreter: this test process has long imported everything, so ``sys.modules``
here says nothing about what ``import bazenji.cli`` costs. The checks are on what gets imported, not on time
(benchmarks/bench_cli_startup.py times it).
"""

import json
import logging
import os
import subprocess
import sys

import pytest

#: the libraries that make a full import take seconds; none is needed to parse arguments or print help
HEAVY = ("torch", "scanpy", "anndata", "zarr", "numba")

#: runs ``bazenji.cli.main(argv)`` the way the console script does and reports its exit status and the heavy
#: libraries then in ``sys.modules`` as JSON on the last line of stdout
PROBE = """
import json, sys
from bazenji import cli
argv, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
cli.build_parser()
try:
    code = cli.main(argv)
except SystemExit as stop:
    code = stop.code
print("\\n" + json.dumps({"code": code, "heavy": [m for m in heavy if m in sys.modules]}))
"""


def fresh_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``python *args`` in a new interpreter with ``env`` added to the environment, output captured."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **env}
    )


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["predict", "--help"], ["sad", "--help"], ["demo", "--help"], ["predict", "--dtype", "nope"]],
    ids=" ".join,
)
def test_help_and_argument_errors_import_no_heavy_library(argv):
    done = fresh_python("-c", PROBE, json.dumps(argv), json.dumps(HEAVY))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"bazenji {' '.join(argv)} imported {report['heavy']}"
    assert report["code"] == (2 if "nope" in argv else 0)


def test_argument_error_exits_2_and_names_the_bad_value():
    done = fresh_python("-m", "bazenji.cli", "predict", "--dtype", "nope")
    assert done.returncode == 2
    assert "--dtype" in done.stderr and "'nope'" in done.stderr and "float32" in done.stderr  # the choices too


def test_subpackages_import_on_first_use():
    code = f"""
import json, sys
import bazenji
heavy = {HEAVY!r}
before = [m for m in heavy if m in sys.modules]
predict = bazenji.tl.predict
from bazenji import settings
print(json.dumps({{
    "before": before, "after": [m for m in heavy if m in sys.modules], "dir": dir(bazenji), "all": bazenji.__all__,
    "predict": callable(predict), "settings": settings is bazenji.settings is bazenji._settings.settings,
    "version": bazenji.__version__, "missing": hasattr(bazenji, "no_such_attribute"),
}}))
"""
    done = fresh_python("-c", code)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["before"] == []  # `import bazenji` alone is cheap ...
    assert "torch" in report["after"] and "scanpy" in report["after"]  # ... and bz.tl imports the library
    subpackages = ["datasets", "encode", "get", "io", "models", "pl", "pp", "settings", "store", "tl"]
    assert report["all"] == subpackages and set(subpackages) <= set(report["dir"])
    assert report["predict"] and report["settings"] and report["version"]
    assert not report["missing"]


def test_any_subpackage_applies_the_settings_first():
    """``BAZENJI_THREADS`` and the ``bazenji`` logger's level take effect with the first subpackage, as they did
    when ``import bazenji`` imported everything (``bz.models`` computes with torch without the settings)."""
    code = """
import logging
import bazenji as bz
bz.models
import torch
print(torch.get_num_threads(), logging.getLogger("bazenji").level)
"""
    done = fresh_python("-c", code, BAZENJI_THREADS="1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", str(logging.WARNING)]


@pytest.mark.parametrize("argv", [["export", "--help"], ["export", "--format", "tdf"]], ids=" ".join)
def test_export_help_and_argument_errors_import_no_heavy_library(argv):
    done = fresh_python("-c", PROBE, json.dumps(argv), json.dumps(HEAVY))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"bazenji {' '.join(argv)} imported {report['heavy']}"
    assert report["code"] == (2 if "tdf" in argv else 0)
