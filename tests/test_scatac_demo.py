"""bz.datasets.demo_scatac: the simulated scATAC cells x peaks matrix over the demo regions."""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bazenji as bz

TYPES = ("HepG2", "K562", "GM12878")


@pytest.fixture(scope="module")
def cells() -> ad.AnnData:
    """The default dataset, at its default cache location (written once, reused afterwards)."""
    return bz.datasets.demo_scatac()


def _nonzero_fraction(adata: ad.AnnData) -> np.ndarray:
    return np.asarray((adata.X > 0).sum(axis=1)).ravel() / adata.n_vars


def test_shape_types_and_file(cells):
    demo = bz.datasets.demo()
    assert cells.shape == (3000, len(demo.regions_table())) == (3000, 667)
    assert sp.issparse(cells.X) and cells.X.format == "csr" and cells.X.dtype == np.int32
    assert cells.layers["counts"].format == "csr" and cells.layers["counts"].dtype == np.int32
    assert (cells.X != cells.layers["counts"]).nnz == 0
    assert list(cells.obs["planted_type"].cat.categories) == [*TYPES, "doublet"]
    counts = cells.obs["planted_type"].value_counts()
    assert counts["doublet"] == 150
    assert {counts[t] for t in TYPES} == {950}
    # planted_depth is the number of reads drawn: every read lands in some peak.
    np.testing.assert_array_equal(np.asarray(cells.X.sum(axis=1)).ravel(), cells.obs["planted_depth"].to_numpy())
    doublets = cells.obs.loc[cells.obs["planted_type"] == "doublet", "planted_parents"].astype(str)
    assert set(doublets) <= {"HepG2+K562", "HepG2+GM12878", "K562+GM12878"}
    params = cells.uns["demo_scatac"]
    assert params["n_cells"] == 3000 and params["seed"] == 0 and params["doublet_fraction"] == 0.05
    assert (demo.root / "scatac" / "cells3000_seed0.h5ad").is_file()


def test_h5ad_reads_back_equal(cells):
    file = bz.datasets.demo().root / "scatac" / "cells3000_seed0.h5ad"
    back = ad.read_h5ad(file)
    assert back.X.format == "csr" and back.X.dtype == np.int32
    assert (back.X != cells.X).nnz == 0 and (back.layers["counts"] != cells.layers["counts"]).nnz == 0
    pd.testing.assert_frame_equal(back.obs, cells.obs)
    pd.testing.assert_frame_equal(back.var, cells.var)
    assert dict(back.uns["demo_scatac"]) == dict(cells.uns["demo_scatac"])
    assert not list(file.parent.glob("*.tmp")), "a temporary file was left behind"


def test_sparsity_in_range(cells):
    fraction = _nonzero_fraction(cells)
    median = float(np.median(fraction))
    assert 0.02 <= median <= 0.10, median
    singlets = fraction[(cells.obs["planted_type"] != "doublet").to_numpy()]
    low, high = np.percentile(singlets, [5, 95])
    assert 0.015 <= low and high <= 0.12, (low, high)
    assert np.asarray((cells.X > 0).sum(axis=0)).ravel().min() > 0, "the ambient floor lets every peak appear"


def test_planted_signal(cells):
    """Each type's cells read more in its own enhancers than in another type's (ground truth, no bazenji analysis)."""
    dense = cells.X.toarray().astype(float)
    klass = cells.var["planted_class"].astype(str).to_numpy()
    kind = cells.obs["planted_type"].astype(str).to_numpy()

    def mean(cell_mask, region_class):
        return dense[cell_mask][:, klass == region_class].mean()

    for t in TYPES:
        own = mean(kind == t, f"enhancer_{t}")
        for other in TYPES:
            if other != t:
                assert own > 2 * mean(kind == t, f"enhancer_{other}"), (t, other)
        assert own > 3 * mean(kind == t, "background"), t
    # A doublet reads in both its parents' enhancers and less in the third type's.
    parents = cells.obs["planted_parents"].astype(str).to_numpy()
    for pair in ("HepG2+K562", "HepG2+GM12878", "K562+GM12878"):
        a, b = pair.split("+")
        (third,) = set(TYPES) - {a, b}
        rest = mean(parents == pair, f"enhancer_{third}")
        assert mean(parents == pair, f"enhancer_{a}") > rest and mean(parents == pair, f"enhancer_{b}") > rest


def test_var_names_parse_back(cells):
    intervals = cells.var[["Chromosome", "Start", "End"]].astype({"Chromosome": str})
    table = bz.datasets.demo().regions_table()
    np.testing.assert_array_equal(intervals["Start"], table["Start"])
    np.testing.assert_array_equal(intervals["End"], table["End"])
    assert cells.var_names[0] == f"{table['Chromosome'].iloc[0]}:{table['Start'].iloc[0]}-{table['End'].iloc[0]}"
    # From the var columns, and from the names alone (var stripped, and as a plain list).
    for source, axis in (
        (cells, "var"),
        (ad.AnnData(var=pd.DataFrame(index=cells.var_names)), "var"),
        (list(cells.var_names), None),
    ):
        got = bz.pp.regions(source, axis=axis).obs
        assert list(got.index) == list(cells.var_names)
        pd.testing.assert_frame_equal(
            got[["Chromosome", "Start", "End"]].astype({"Chromosome": str, "Start": "int64", "End": "int64"}),
            intervals,
            check_names=False,
        )


def test_deterministic(tmp_path, cells):
    one = bz.datasets.demo_scatac(n_cells=200, seed=7, path=tmp_path / "a.h5ad")
    two = bz.datasets.demo_scatac(n_cells=200, seed=7, path=tmp_path / "b.h5ad")
    other = bz.datasets.demo_scatac(n_cells=200, seed=8, path=tmp_path / "c.h5ad")
    assert (one.X != two.X).nnz == 0
    pd.testing.assert_frame_equal(one.obs, two.obs)
    assert (one.X != other.X).nnz > 0
    # A fresh draw equals the cached default file.
    fresh = bz.datasets.demo_scatac(path=tmp_path / "d.h5ad")
    assert (fresh.X != cells.X).nnz == 0
    pd.testing.assert_frame_equal(fresh.obs, cells.obs)


def test_reuse_and_regenerate(tmp_path):
    file = tmp_path / "sub" / "cells.h5ad"
    first = bz.datasets.demo_scatac(n_cells=40, doublet_fraction=0.0, path=file)
    assert (first.obs["planted_type"] == "doublet").sum() == 0
    stamp = file.stat().st_mtime_ns
    again = bz.datasets.demo_scatac(n_cells=40, doublet_fraction=0.0, path=file)
    assert file.stat().st_mtime_ns == stamp, "a matching file is reused, not rewritten"
    assert (again.X != first.X).nnz == 0
    # The same file asked for with other parameters is made again with them.
    changed = bz.datasets.demo_scatac(n_cells=40, doublet_fraction=0.25, path=file)
    assert (changed.obs["planted_type"] == "doublet").sum() == 10
    assert ad.read_h5ad(file).uns["demo_scatac"]["doublet_fraction"] == 0.25
    assert sorted(p.name for p in file.parent.iterdir()) == ["cells.h5ad"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_cells": 9}, r"n_cells=9; expected an integer of at least 10"),
        ({"n_cells": 100.0}, r"n_cells=100\.0; expected an integer"),
        ({"doublet_fraction": 0.5}, r"doublet_fraction=0\.5; expected a number in \[0, 0\.5\)"),
        ({"doublet_fraction": -0.01}, r"doublet_fraction=-0\.01; expected a number in \[0, 0\.5\)"),
        ({"seed": -1}, r"seed=-1; expected a non-negative integer"),
    ],
)
def test_bad_input(kwargs, message, tmp_path: Path):
    with pytest.raises(ValueError, match=message):
        bz.datasets.demo_scatac(path=tmp_path / "x.h5ad", **kwargs)
    assert not (tmp_path / "x.h5ad").exists()
