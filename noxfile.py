"""Developer tasks: ``nox -s tests``, ``lint``, ``docs``, ``tutorials``, ``bench``.

Each session keeps its virtual environment between runs (``reuse_venv``), so only the first run pays for
installing torch; ``nox -R -s <session>`` also skips the install step entirely. Arguments after ``--`` go to
the tool the session runs, e.g. ``nox -s tests -- -k targets -x``.
"""

from pathlib import Path

import nox

ROOT = Path(__file__).parent
# Installed before the package so pip keeps this build (the CPU wheel where the index offers one) instead of
# resolving `torch>=` to whatever default build the index prefers.
TORCH = "torch==2.13.0"
LINTED = ["src", "tests", "benchmarks", "scripts", "tutorials", "noxfile.py", "docs"]

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"


def install(session: nox.Session, extras: str = "") -> None:
    session.install(TORCH)
    session.install("-e", f".[{extras}]" if extras else ".")


@nox.session(reuse_venv=True)
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(reuse_venv=True)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check (nothing is rewritten)."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session(reuse_venv=True)
def docs(session: nox.Session) -> None:
    """Build the HTML docs with warnings as errors; output in docs/_build/html."""
    install(session, "docs")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)


EXECUTE_NOTEBOOKS = """
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

for name in sys.argv[1:]:
    path = Path(name)
    print(f"executing {path}", flush=True)
    notebook = nbformat.read(path, as_version=4)
    # resources.metadata.path is the working directory of the kernel: the notebook's own folder
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(notebook, timeout=1800, kernel_name="python3", resources=resources).execute()
"""


@nox.session(reuse_venv=True)
def tutorials(session: nox.Session) -> None:
    """Execute every tutorials/*.ipynb from top to bottom; a cell that raises fails the session."""
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tutorials").glob("*.ipynb"))
    if not notebooks:
        session.skip("no notebooks in tutorials/")
    install(session, "test")
    session.run("python", "-c", EXECUTE_NOTEBOOKS, *notebooks)


@nox.session(reuse_venv=True)
def bench(session: nox.Session) -> None:
    """Run every benchmarks/*.py in turn, or one: ``nox -s bench -- bench_inference.py --threads 1 --rounds 7``.

    Each script prints its own numbers (see benchmarks/RESULTS.md); options after the script's name go to it alone.
    """
    scripts = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").glob("bench_*.py"))
    args = list(session.posargs)
    if args and args[0].endswith(".py"):
        chosen = str(Path("benchmarks") / Path(args.pop(0)).name)
        if chosen not in scripts and not (ROOT / chosen).exists():
            session.error(f"no benchmark {chosen}; expected one of {scripts}")
        scripts = [chosen]
    elif args:
        session.error("options need a script first: nox -s bench -- bench_inference.py --threads 1")
    if not scripts:
        session.skip("no scripts in benchmarks/")
    install(session, "test")
    # the peer ports are compared side by side in bench_inference.py; never bazenji dependencies
    session.install("multimolecule==0.2.2", "basenji2-pytorch==0.1.2")
    for script in scripts:
        session.run("python", script, *args)
