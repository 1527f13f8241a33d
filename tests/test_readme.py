"""The README tells the truth: its tour runs as printed on the demo, and its commands exist."""

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_block() -> str:
    """The first python block under the README's "A short tour" heading, exactly as printed."""
    text = README.read_text()
    section = text[text.index("## A short tour") :]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "the README's tour has no python block"
    return match.group(1)


def test_tour_runs_as_printed_on_the_demo(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)  # whatever the tour writes lands here, not in the checkout
    namespace: dict = {}
    exec(compile(tour_block(), str(README), "exec"), namespace)

    adata, markers, demo = namespace["adata"], namespace["markers"], namespace["demo"]
    planted = demo.regions_table()
    assert adata.shape == (len(planted), len(demo.targets_table()))  # every demo region, every demo track
    assert list(adata.obs_names) == list(planted.index)
    assert (adata.obs["region_class"].astype(str).to_numpy() == planted["region_class"].astype(str)).all()
    assert np.isfinite(adata.X).all() and (adata.X >= 0).all()  # softplus coverage
    clusters = adata.obs["bz_cluster"]
    assert isinstance(clusters.dtype, pd.CategoricalDtype) and clusters.nunique() > 1
    assert set(markers["group"].astype(str)) == set(clusters.astype(str))
    ranks = markers.groupby("group", observed=True)["rank"].apply(list)
    assert all(r == list(range(1, 11)) for r in ranks)  # rank_tracks keeps each cluster's 10 best tracks
    assert adata.obsm["X_umap"].shape == (adata.n_obs, 2)
    assert len(plt.get_fignums()) == 2  # the heatmap and the UMAP were drawn
    plt.close("all")


def test_tour_mentions_only_public_names():
    """Every ``bz.<module>.<name>`` in the README exists, so no line of it fails with AttributeError."""
    import bazenji as bz

    names = set(re.findall(r"\bbz\.([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)", README.read_text()))
    assert len(names) >= 10
    missing = [f"bz.{module}.{name}" for module, name in sorted(names) if not hasattr(getattr(bz, module), name)]
    assert not missing, missing


def test_ci_runs_the_readme_s_test_command():
    text = README.read_text()
    assert "./run.sh demo" in text and "./run.sh test" in text
    assert "./run.sh test" in (README.parent / ".ci" / "run").read_text()
