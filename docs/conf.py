"""Sphinx configuration for the bazenji docs (built by ``nox -s docs`` with warnings as errors)."""

import importlib
import inspect
import re
from pathlib import Path

import bazenji

HERE = Path(__file__).parent

project = "bazenji"
author = "bazenji developers"
copyright = "bazenji developers"
release = bazenji.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# .md pages are MyST, .ipynb notebooks (docs/tutorials links to the repository's tutorials/) go through myst-nb;
# .rst is there for the stub pages autosummary writes into generated/ (it picks the first reST suffix).
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3
# `nox -s tutorials` executes the notebooks; the docs show them as committed.
nb_execution_mode = "off"

autosummary_generate = True
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "sphinx_book_theme"
html_title = "bazenji"
html_theme_options = {"repository_url": "https://github.com/bazenji/bazenji", "use_repository_button": False}

# Every public module whose API the reference lists, with the name it has in the docs.
API_MODULES = ["pp", "tl", "pl", "io", "models", "store", "encode", "datasets"]


def _check_api_page(app):
    """Warn (an error under -W) about functions and classes in a module's ``__all__`` that api.md does not list.

    Exporting a function is then enough to be told which line api.md needs. Constants and submodules in
    ``__all__`` are not required.
    """
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    listed = set(re.findall(r"^\s*(\w+(?:\.\w+)*)\s*$", (HERE / "api.md").read_text(), flags=re.MULTILINE))
    for name in API_MODULES:
        module = importlib.import_module(f"bazenji.{name}")
        for member in getattr(module, "__all__", []):
            obj = getattr(module, member)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and f"{name}.{member}" not in listed:
                logger.warning(f"bazenji.{name}.{member} is in bazenji.{name}.__all__ but not listed in docs/api.md")


def _tutorials_page(app, docname, source):
    """Say "no tutorials yet" instead of an empty glob, which Sphinx warns about and -W turns into an error."""
    if docname == "tutorials" and not any((HERE / "tutorials").glob("*.ipynb")):
        source[0] = source[0].split("```{toctree}")[0] + "No tutorials yet.\n"


def setup(app):
    app.connect("builder-inited", _check_api_page)
    app.connect("source-read", _tutorials_page)
