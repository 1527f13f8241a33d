"""The main job on the embedded demo: regions -> window store -> predictions -> scanpy clusters -> heatmap."""

from __future__ import annotations

import time
from pathlib import Path


def run_demo(
    *, outdir: str | Path = "bazenji_demo_out", device: str | None = None, dtype: str = "float32",
    batch_size: int | None = None, predictions: str | Path | None = None,
) -> int:  # fmt: skip
    """Run the whole bazenji flow on the demo and print a summary; returns the exit status.

    Writes ``predictions.h5ad`` (regions x tracks with Leiden clusters, UMAP and observed coverage as the
    ``observed`` layer; elsewhere, or as ``.zarr``, with ``predictions=``), ``windows.zarr`` (the window store
    with profiles) and ``heatmap.png`` into ``outdir``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import anndata as ad
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    import bazenji as bz

    tic = time.perf_counter()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    demo = bz.datasets.demo()
    regions = bz.pp.regions(demo.regions_table())
    model = bz.models.load("demo")
    store = outdir / "windows.zarr"
    adata = bz.tl.predict(
        regions, model, demo.fasta, store=store, keep_profiles=True, overwrite=True, device=device, dtype=dtype,
        batch_size=batch_size,
    )  # fmt: skip
    observed = bz.pp.import_bigwigs(regions, targets=demo.targets)
    adata.layers["observed"] = observed[:, adata.var_names].X
    bz.tl.cluster_regions(adata)  # the library's defaults, as a user's first call would run it
    ari = adjusted_rand_score(adata.obs["region_class"].astype(str), adata.obs["bz_cluster"].astype(str))
    markers = bz.tl.rank_tracks(adata, "region_class")
    fig = bz.pl.region_heatmap(adata, groupby="bz_cluster", return_fig=True, show=False)
    fig.savefig(outdir / "heatmap.png", dpi=120, bbox_inches="tight")
    _, r = bz.pl.predicted_vs_observed(adata, observed, show=False)
    test_chrom = (adata.obs["Chromosome"] == "chr4").to_numpy()  # held out from the demo model's training
    _, r_test = bz.pl.predicted_vs_observed(adata[test_chrom], observed[test_chrom], show=False)
    matplotlib.pyplot.close("all")
    predictions = outdir / "predictions.h5ad" if predictions is None else Path(predictions)
    if predictions.suffix == ".zarr":
        adata.write_zarr(predictions)
        ad.read_zarr(predictions)  # the written file reads back
    else:
        adata.write_h5ad(predictions)
        ad.read_h5ad(predictions)

    info = adata.uns["bazenji"]
    by_assay = r.groupby("assay", observed=True)["pearson_r"].mean()
    by_assay_test = r_test.groupby("assay", observed=True)["pearson_r"].mean()
    # a class's marker is its best track only when that track is enriched there (FDR 5%, higher in the class)
    top = markers.groupby("group", observed=True).head(1)
    enriched = (top["pval_adj"] < 0.05) & (top["logfoldchange"] > 0)
    print(f"bazenji demo: {adata.n_obs} regions x {adata.n_vars} tracks from the demo model ({model.config.n_bins} "
          f"bins of {model.config.bin_size} bp per {model.config.seq_length:,} bp window)")  # fmt: skip
    print(f"  prediction   {info['windows']['n_windows']} windows at {info['timings'].get('windows_per_s', 0):.1f} "
          f"windows/s on {info['device']} ({info['dtype']})")  # fmt: skip
    print("  predicted vs observed, mean Pearson R of log1p region coverage by assay: "
          + ", ".join(f"{a} {v:.2f}" for a, v in by_assay.items())
          + " (all regions); " + ", ".join(f"{a} {v:.2f}" for a, v in by_assay_test.items())
          + f" ({test_chrom.sum()} regions on the held-out chr4)")  # fmt: skip
    params = adata.uns["bz_cluster"]["params"]
    print(f"  Leiden clusters: {adata.obs['bz_cluster'].nunique()} (bz.tl.cluster_regions defaults: n_pcs "
          f"{params['n_pcs']}, n_neighbors {params['n_neighbors']}, resolution {params['resolution']}), adjusted "
          f"Rand index vs planted classes {ari:.2f}")  # fmt: skip
    print("  top marker track per planted class (bz.tl.rank_tracks, enriched at FDR 5%): "
          + "; ".join(f"{row.group}: {row.track}" if ok else f"{row.group}: none enriched (best {row.track}: log "
                      f"fold change {row.logfoldchange:.2f}, adjusted p {row.pval_adj:.2g})"
                      for row, ok in zip(top.itertuples(), enriched, strict=True)))  # fmt: skip
    print(f"  demo data (bz.datasets.demo()) at {demo.root}")
    print(f"  written {predictions}, {outdir / 'heatmap.png'}, {store} "
          f"in {time.perf_counter() - tic:.0f} s")  # fmt: skip
    return 0 if np.isfinite(adata.X).all() else 1
