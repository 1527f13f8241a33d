"""Start-up time of the ``bazenji`` command and of ``import bazenji``, each in a fresh process.

    python benchmarks/bench_cli_startup.py [--repeats 7]

Times, side by side in one run (the cases alternate within each round, so drift of a shared CPU hits them
alike), the wall clock of a fresh process for:

- ``bazenji --help``, ``bazenji predict --help``, ``bazenji sad --help``, ``bazenji demo --help``;
- an argument error, ``bazenji predict --dtype nope`` (argparse exits 2 before any work);
- ``python -c "import bazenji"`` (the package alone) and ``python -c "import bazenji; bazenji.tl"`` (the full
  library: torch, anndata, scanpy, zarr, numba ...);
- ``python -c pass``: the interpreter's own start, the floor under all of them.

The ``bazenji`` console script beside this interpreter is used (as ``./run.sh demo`` runs it); without one,
``python -m bazenji.cli``. A second pass runs each case once more under a wrapper that prints which of the
heavy libraries it left in ``sys.modules``. Prints a markdown table for benchmarks/RESULTS.md; the goal of the
issue is ``--help`` and argument errors under 1 s.

To compare two versions of the package, time the old one first with its source tree in front of the installed
one, then the current one against the saved times::

    git worktree add /tmp/before HEAD~1
    PYTHONPATH=/tmp/before/src python benchmarks/bench_cli_startup.py --json before.json
    python benchmarks/bench_cli_startup.py --before before.json

The header names the ``bazenji`` source tree that was timed, so a run cannot silently time the wrong one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("torch", "scanpy", "anndata", "zarr", "numba", "pandas", "numpy", "xarray", "h5py", "matplotlib")

#: a wrapper that runs one case in-process and reports the heavy modules it imported
PROBE = """
import json, sys
argv, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if argv[0] == "cli":
    from bazenji.cli import main
    try:
        main(argv[1:])
    except SystemExit:
        pass
else:
    exec(argv[1])
sys.stdout.flush()
print("\\n" + json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def command() -> list[str]:
    script = Path(sys.executable).with_name("bazenji")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bazenji.cli"]


def cases() -> dict[str, tuple[list[str], list[str]]]:
    """Name -> (the command line timed, the probe's argv for the same case)."""
    cli, py = command(), sys.executable
    return {
        "`bazenji --help`": ([*cli, "--help"], ["cli", "--help"]),
        "`bazenji predict --help`": ([*cli, "predict", "--help"], ["cli", "predict", "--help"]),
        "`bazenji sad --help`": ([*cli, "sad", "--help"], ["cli", "sad", "--help"]),
        "`bazenji demo --help`": ([*cli, "demo", "--help"], ["cli", "demo", "--help"]),
        "`bazenji predict --dtype nope` (exit 2)": (
            [*cli, "predict", "--dtype", "nope"],
            ["cli", "predict", "--dtype", "nope"],
        ),
        '`python -c "import bazenji"`': ([py, "-c", "import bazenji"], ["exec", "import bazenji"]),
        '`python -c "import bazenji; bazenji.tl"` (full import)': (
            [py, "-c", "import bazenji; bazenji.tl"],
            ["exec", "import bazenji; bazenji.tl"],
        ),
        "`python -c pass` (the interpreter alone)": ([py, "-c", "pass"], ["exec", "pass"]),
    }


def run_once(argv: list[str]) -> tuple[float, int]:
    tic = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - tic, done.returncode


def heavy_loaded(probe: list[str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(probe), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="rounds; every case runs once per round")
    parser.add_argument("--json", help="also write the raw times here")
    parser.add_argument("--before", help="raw times of an earlier run (its --json): adds before and ratio columns")
    args = parser.parse_args()
    before = json.loads(Path(args.before).read_text())["times"] if args.before else {}
    table = cases()
    load = os.getloadavg()
    for argv, _ in table.values():  # warm-up: page cache, .pyc files
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in table}
    codes: dict[str, set[int]] = {name: set() for name in table}
    names = list(table)
    for r in range(args.repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # the order rotates between rounds
            seconds, code = run_once(table[name][0])
            times[name].append(seconds)
            codes[name].add(code)
    heavy = {name: heavy_loaded(probe) for name, (_, probe) in table.items()}
    end_load = os.getloadavg()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"python {platform.python_version()} ({sys.executable}); command: {' '.join(command())}")
    # find_spec locates the package without importing it (the import is what is being timed)
    print(f"bazenji from {Path(importlib.util.find_spec('bazenji').origin).parent}")
    print(f"load average at start {load[0]:.1f}, at end {end_load[0]:.1f}; {args.repeats} rounds\n")
    compare = "| before median s | after / before " if before else ""
    print(f"| case {compare}| median s | min s | exit | heavy modules imported |")
    print("|---" * (5 + 2 * bool(before)) + "|")
    for name in names:
        median = statistics.median(times[name])
        cells = [f"{median:.3f}", f"{min(times[name]):.3f}"]
        if before:
            old = statistics.median(before[name]) if name in before else float("nan")
            cells[:0] = [f"{old:.3f}", f"{median / old:.2f}"]
        cells.append(",".join(str(c) for c in sorted(codes[name])))
        print(f"| {name} | {' | '.join(cells)} | {', '.join(heavy[name]) or 'none'} |")
    goal = [n for n in names if n.startswith("`bazenji")]
    worst = max(statistics.median(times[n]) for n in goal)
    print(f"\nslowest `bazenji` case (median): {worst:.3f} s; goal < 1 s: {'met' if worst < 1 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"times": times, "heavy": heavy, "load": [load, end_load]}, indent=1))


if __name__ == "__main__":
    main()
