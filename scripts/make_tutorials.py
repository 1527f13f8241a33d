"""Write the tutorial notebooks (tutorials/*.ipynb) from the cell sources below.

    python scripts/make_tutorials.py             # sources only
    python scripts/make_tutorials.py --execute   # run each notebook on the demo and keep its outputs
    python scripts/make_tutorials.py --execute --only 03_training   # just these notebooks

The committed notebooks carry their outputs (figures, tables) so that the docs and a repository browser show
them; the test suite executes them again from scratch.
"""

import sys
import tempfile
from pathlib import Path

import nbformat as nbf
from nbclient import NotebookClient

EXECUTE = "--execute" in sys.argv[1:]
#: ``--only 03_training`` rewrites (and executes) just the named notebooks; the others keep their outputs
ONLY = sys.argv[sys.argv.index("--only") + 1 :] if "--only" in sys.argv else None


def nb(cells, path):
    """Write a notebook: cells starting with ``md:`` are markdown, the others code."""
    if ONLY is not None and path.stem not in ONLY:
        return
    notebook = nbf.v4.new_notebook()
    notebook.cells = [
        nbf.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbf.v4.new_code_cell(c.strip()) for c in cells
    ]
    for i, cell in enumerate(notebook.cells):
        cell.id = f"{path.stem}-{i}"  # stable ids: regenerating changes only what changed
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if EXECUTE:
        print(f"executing {path.name}", flush=True)
        with tempfile.TemporaryDirectory() as work:  # files the notebook writes stay out of the repository
            NotebookClient(
                notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": work}}
            ).execute()
        for cell in notebook.cells:  # progress bars are for the live session, not for the rendered page
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    nbf.write(notebook, path)


out = Path(__file__).resolve().parents[1] / "tutorials"
nb(
    [
        """md:# Quickstart: regions in, clusters of regions out

This tutorial runs the whole bazenji flow on the embedded demo, on a CPU, in a couple of minutes:
a BED-like region set and a genome go in, Basenji2 predicts every track for every region, and scanpy
clusters the regions by their predicted chromatin. The demo is a synthetic 3.7 Mb genome with planted
promoters, cell-type-specific enhancers (HepG2, K562, GM12878) and CTCF sites, real bigWig tracks
simulated from that grammar, and a Basenji2 (the full graph at the real 131,072 bp window, narrow)
trained on them by `scripts/train_demo_model.py`.""",
        """
import scanpy as sc
from sklearn.metrics import adjusted_rand_score

import bazenji as bz

demo = bz.datasets.demo()
print(demo.summary())
""",
        """md:## Regions, genome and model

`bz.pp.regions` reads BED, narrowPeak, pyranges, DataFrames or AnnData; here the demo's labelled
region table (each region's planted class is kept in `obs`).""",
        """
regions = bz.pp.regions(demo.regions_table(), genome=demo.fasta)
model = bz.models.load("demo")
model
""",
        """md:## Predict

One window per region, centred on it; the window store (one-hot DNA, then profiles) is kept so
the locus plot below can read full profiles.""",
        """
adata = bz.tl.predict(regions, model, demo.fasta, store="quickstart.zarr", keep_profiles=True, overwrite=True)
adata
""",
        """
adata.var[["assay", "target", "biosample", "description"]].head(8)
""",
        """md:## Predicted against observed

`bz.pp.import_bigwigs` reads the tracks' bigWig files over the same bins, so predictions and
observations compare region by region. The regions on chr4 were held out of training.""",
        """
observed = bz.pp.import_bigwigs(regions, targets=demo.targets)
held_out = adata.obs["Chromosome"] == "chr4"
r = bz.pl.predicted_vs_observed(adata[held_out], observed[held_out], by="assay")
r.groupby("assay", observed=True)["pearson_r"].mean().round(2)
""",
        """md:## Cluster regions by their predicted tracks

`bz.tl.cluster_regions` is log1p, scaling, PCA, neighbours, Leiden and UMAP with scanpy, every
result in scanpy's slots. The adjusted Rand index measures how well the clusters recover the
planted region classes.""",
        """
bz.tl.cluster_regions(adata, n_pcs=10, resolution=0.5)
ari = adjusted_rand_score(adata.obs["region_class"].astype(str), adata.obs["bz_cluster"].astype(str))
print(f"{adata.obs['bz_cluster'].nunique()} clusters, adjusted Rand index vs planted classes: {ari:.2f}")
sc.pl.umap(adata, color=["bz_cluster", "region_class"], wspace=0.5)
""",
        """md:## Marker tracks per region class""",
        """
markers = bz.tl.rank_tracks(adata, "region_class")
markers.groupby("group", observed=True).head(1)[["group", "track", "assay", "target", "biosample", "logfoldchange"]]
""",
        """
bz.pl.region_heatmap(adata, groupby="region_class")
""",
        """md:## A locus

Profiles at one enhancer, predicted (from the store) with the observed tracks overlaid. Writing
the observed bigWigs into the same store as training targets puts both on the same bins.""",
        """
bz.pp.import_bigwigs("quickstart.zarr", targets=demo.targets, overwrite=True)
enhancer = adata.obs_names[adata.obs["region_class"] == "enhancer_HepG2"][0]
lanes = ["DNASE_HepG2", "DNASE_K562", "H3K27ac_HepG2", "HNF4A_HepG2"]
bz.pl.tracks("quickstart.zarr", region=enhancer, observed="quickstart.zarr", tracks=lanes, genes=demo.genes)
""",
    ],
    out / "01_quickstart.ipynb",
)

nb(
    [
        """md:# The released human model

The released Basenji2 human weights (`model_human.h5`, 120 MB, Keras HDF5) and their track table
(`targets_human.txt`, 5,313 tracks) load with one call. Weights cannot be downloaded on the machines
that build this documentation, so the cells that need the real file are shown as markdown with
their expected output; the executable cells run the same calls on the demo model and the real
track table, which bazenji ships (`bz.datasets.human_targets()`) because the weights file has no track names.""",
        """md:```python
model = bz.models.load("model_human.h5", targets=bz.datasets.human_targets())
model.config.n_tracks, model.config.n_bins, model.n_parameters()
# (5313, 896, 30088228)
```
`load` detects the format (official Keras HDF5 in both layouts, basenji2-pytorch `.pth`,
multimolecule checkpoint folders, bazenji folders) and reads the architecture from the file.""",
        """
import numpy as np
import torch

import bazenji as bz

config = bz.models.Basenji2Config.human()
print(config.seq_length, config.n_bins, config.bin_size, config.n_tracks, config.dilations)
print(f"{bz.models.Basenji2(config).n_parameters():,} trainable parameters")
""",
        """md:## Track tables and assay-aware selection

`bz.io.read_targets` parses the official table into `var`: assay, ChIP target and biosample.""",
        """
# the real table of the released model, shipped with bazenji (the .h5 file has no track names)
table = bz.io.read_targets(bz.datasets.human_targets())
table["assay"].value_counts()
""",
        """
ctcf = bz.io.select_tracks(table, "assay == 'CHIP' and target == 'CTCF'")
cage = bz.io.select_tracks(table, "CAGE")
print(len(ctcf), "CTCF ChIP tracks;", len(cage), "CAGE tracks")
table.iloc[ctcf[:3]][["description", "target", "biosample"]]
""",
        """md:With the real model, `tracks=` computes only those rows of the head:

```python
adata = bz.tl.predict("peaks.bed", model, "hg38.fa", tracks="CAGE", rc=True, shifts=[-1, 0, 1])
adata.shape   # (n_regions, 638)
```
The same call on the demo model:""",
        """
demo = bz.datasets.demo()
model = bz.models.load("demo")
adata = bz.tl.predict(demo.regions_table().head(20), model, demo.fasta, tracks="CAGE", rc=True, shifts=[-1, 0, 1])
adata.var[["assay", "biosample", "strand_pair"]]
""",
        """md:## What the GELU choice means

Three GELU forms exist in Basenji2 code: `x * sigmoid(1.702 x)` (official code 2018-2022, what
`model_human.h5` was trained with), the tanh approximation (official code since 2022,
multimolecule) and the exact erf form (basenji2-pytorch). `bz.models.load` picks each format's own
form and logs the Keras choice; `gelu=` overrides it. On the same weights the forms differ by about 12%:""",
        """
x = torch.as_tensor(bz.encode.one_hot(bz.encode.to_codes(np.frombuffer(b"ACGT" * 32_768, dtype=np.uint8)))[None])
outputs = {}
for form in bz.models.GELU_FORMS:
    variant = bz.models.Basenji2(bz.models.Basenji2Config(**{**model.config.to_dict(), "gelu": form}))
    variant.load_state_dict(model.state_dict())
    with torch.inference_mode():
        outputs[form] = variant.eval()(x).numpy()
for form in ("tanh", "erf"):
    error = np.linalg.norm(outputs[form] - outputs["sigmoid"]) / np.linalg.norm(outputs["sigmoid"])
    print(f"{form} vs sigmoid: relative difference {error:.1%}")
""",
    ],
    out / "02_human_model.ipynb",
)

nb(
    [
        """md:# Training and fine-tuning on your own bigWigs

A lab's own tracks train Basenji2 (from scratch or from a released checkpoint) with four calls:
tile the genome into windows, encode them, write the bigWig tracks as binned targets into the same
store, hold out chromosomes. This notebook does a short run on the demo so it finishes in a couple
of minutes on a CPU; `scripts/train_demo_model.py` is the full recipe that made the demo model.""",
        """
import bazenji as bz

bz.settings.progress = False
demo = bz.datasets.demo()
genome = bz.io.Genome(demo.fasta)
plan = bz.pp.tile_genome(genome, stride=57_344)
bz.pp.encode(plan, genome, "training.zarr", overwrite=True)
table = bz.pp.import_bigwigs("training.zarr", targets=demo.targets, overwrite=True)
labels = bz.pp.split_by_chrom("training.zarr", valid=["chr3"], test=["chr4"])
bz.store.open("training.zarr")
""",
        """md:## Fine-tune the demo model's head on the tracks

`model.replace_head(table)` keeps a pretrained trunk and puts a fresh head for your track table on
it; `freeze_trunk=True` then trains only the head: the quick way to learn a new track set. Here the
demo model's trunk gets a new head for the store's tracks (the demo's own table stands in for yours)
and trains for two short epochs.""",
        """
model = bz.models.load("demo").replace_head(table)
before = bz.tl.evaluate(model, "training.zarr", split="valid")["pearsonr"].mean()
history = bz.tl.train(model, "training.zarr", epochs=2, steps_per_epoch=8, freeze_trunk=True, lr=5e-3, seed=0)
after = bz.tl.evaluate(model, "training.zarr", split="valid")["pearsonr"].mean()
print(f"validation Pearson R: {before:.2f} before, {after:.2f} after two short epochs")
history.metrics
""",
        """
bz.pl.training_history(history)
""",
        """md:## A new head in seconds: train from cached trunk embeddings

With a frozen trunk every epoch computes the same trunk embeddings again. `bz.tl.cache_embeddings` runs
the trunk once over the store and keeps its output there (`embedding`, window x bin x channel, float16);
`train(from_embeddings=True)` then trains only the head from the cache: one linear layer per batch. There
is no augmentation on this path (the cache holds the stored sequence's embeddings only).""",
        """
import time

model = bz.models.load("demo").replace_head(table)
tic = time.perf_counter()
bz.tl.cache_embeddings(model, "training.zarr", overwrite=True)
cached_s = time.perf_counter() - tic
tic = time.perf_counter()
fast = bz.tl.train(model, "training.zarr", epochs=2, steps_per_epoch=8, from_embeddings=True, lr=5e-3, seed=0)
print(f"cache written in {cached_s:.1f} s; two epochs from it in {time.perf_counter() - tic:.1f} s")
print(f"validation Pearson R: {bz.tl.evaluate(model, 'training.zarr', split='valid')['pearsonr'].mean():.2f}")
""",
        """md:## Evaluate like basenji_test

Per-track Pearson R over all held-out windows and bins, joined to the track table. The demo
model's numbers on its test chromosome are recorded with the model:""",
        """
result = bz.tl.evaluate(bz.models.load("demo"), "training.zarr", split="test")
print(result.groupby("assay", observed=True)["pearsonr"].mean().round(3))
print("recorded:", bz.datasets.demo_model_metrics()["pearsonr_by_assay"])
""",
    ],
    out / "03_training.ipynb",
)

nb(
    [
        """md:# Variant effects: which variants change predicted chromatin

`bz.tl.variant_effect` scores variants the way the official `basenji_sad` does: a reference and an
alternative window per variant (the variant at position L/2 - 1), SAD = the sum over bins of alt minus
ref per track, more statistics on request. Here a VCF of demo variants: SNVs at the centre of planted
CTCF and HNF4A motifs, and SNVs at random background positions.""",
        """
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bazenji as bz

bz.settings.progress = False
demo = bz.datasets.demo()
genome = bz.io.Genome(demo.fasta)
sites = pd.read_csv(demo.sites, sep="\\t", header=None, names=["chrom", "start", "end", "motif", "element"])
rng = np.random.default_rng(0)
rows = []
for motif in ("CTCF", "HNF4A"):
    for site in sites[sites["motif"] == motif].head(6).itertuples():
        pos = (site.start + site.end) // 2 + 1  # 1-based
        ref = genome.fetch(site.chrom, pos - 1, pos, upper=True)
        rows.append((site.chrom, pos, f"{motif}_{pos}", ref, {"A": "C", "C": "A", "G": "T", "T": "G"}[ref]))
for i in range(12):
    chrom = str(rng.choice(["chr1", "chr2"]))
    pos = int(rng.integers(200_000, 700_000))
    ref = genome.fetch(chrom, pos - 1, pos, upper=True)
    if ref in "ACGT":
        rows.append((chrom, pos, f"background_{i}", ref, {"A": "G", "C": "T", "G": "A", "T": "C"}[ref]))
with open("variants.vcf", "w") as vcf:
    vcf.write("##fileformat=VCFv4.2\\n#CHROM\\tPOS\\tID\\tREF\\tALT\\tQUAL\\tFILTER\\tINFO\\n")
    for chrom, pos, name, ref, alt in rows:
        vcf.write(f"{chrom}\\t{pos}\\t{name}\\t{ref}\\t{alt}\\t.\\tPASS\\t.\\n")
variants = bz.io.read_vcf("variants.vcf")
variants.head()
""",
        """
sad = bz.tl.variant_effect(variants, bz.models.load("demo"), genome, stats=("SAD", "logSAD"))
sad
""",
        """md:Each variant's strongest effect over all tracks; the motif-breaking variants come first.""",
        """
strongest = pd.Series(np.abs(sad.X).max(axis=1), index=sad.obs_names).sort_values(ascending=False)
colors = ["tab:red" if name.startswith(("CTCF", "HNF4A")) else "tab:gray" for name in strongest.index]
fig, ax = plt.subplots(figsize=(8, 3))
ax.bar(range(len(strongest)), strongest.to_numpy(), color=colors)
ax.set_xticks(range(len(strongest)), strongest.index, rotation=90, fontsize=7)
ax.set_ylabel("max |SAD| over tracks")
plt.show()
""",
        """
top = strongest.index[0]
effects = pd.Series(sad[top].X.ravel(), index=sad.var_names).sort_values()
effects.to_frame(f"SAD of {top}").T.round(2)
""",
    ],
    out / "04_variants.ipynb",
)

nb(
    [
        """md:# Scaling out on dask

bazenji runs on [dask.distributed](https://distributed.dask.org): every chunk of windows (or of
variants) becomes one named task, and the workers write their results into the same zarr store. The
same call goes from this notebook's `LocalCluster` to a SLURM cluster or a node of GPUs; only the
cluster object changes. `pip install "bazenji[dask]"` brings dask and distributed; {doc}`/scaling`
has the details (what workers need, failures and resuming, stores on shared paths).""",
        """
import numpy as np
from dask.distributed import Client, LocalCluster

import bazenji as bz

bz.settings.progress = False
demo = bz.datasets.demo()
regions = bz.pp.regions(demo.regions_table().head(64), genome=demo.fasta)

cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
client = Client(cluster)
client
""",
        """md:Pass the client (or set `bz.settings.client` once). The workers load the model once each, encode and
predict their chunks, and the driver only gathers the per-region values:""",
        """
on_workers = bz.tl.predict(regions, "demo", demo.fasta, store="scaling.zarr", chunk_windows=16, client=client,
                           overwrite=True)  # fmt: skip
here = bz.tl.predict(regions, "demo", demo.fasta, client=False)
print("tasks:", on_workers.uns["bazenji"]["dask"]["tasks"], "on", on_workers.uns["bazenji"]["device"])
print("largest difference to this process:", float(np.abs(on_workers.X - here.X).max()))
""",
        """
client.close()
cluster.close()
""",
        """md:## On a cluster

A SLURM cluster through [dask-jobqueue](https://jobqueue.dask.org): each job is one worker process with
the cores and memory it asks for; the store must be on a filesystem every node sees.

```python
from dask_jobqueue import SLURMCluster
from dask.distributed import Client

cluster = SLURMCluster(cores=8, processes=1, memory="32GB", walltime="04:00:00",
                       job_script_prologue=["export BAZENJI_THREADS=8"])
cluster.scale(jobs=20)
client = Client(cluster)
adata = bz.tl.predict("peaks.bed", "model_human.h5", "hg38.fa", store="/shared/peaks.zarr", client=client)
```

One worker per GPU with [dask-cuda](https://docs.rapids.ai/api/dask-cuda/stable/); `device="cuda"` means
each worker's own GPU:

```python
from dask_cuda import LocalCUDACluster
from dask.distributed import Client

client = Client(LocalCUDACluster())
sad = bz.tl.variant_effect("biobank.vcf.gz", "model_human.h5", "hg38.fa", store="/shared/sad.zarr",
                           device="cuda", dtype="bfloat16", client=client)
```

A run that stops (a job limit, a lost node) is resumed by calling the same function with the same
`store=`: only chunks not yet flagged done are submitted again.""",
    ],
    out / "05_scaling.ipynb",
)

nb(
    [
        """md:# Single cell: predictions and per-cell track scores in a scATAC AnnData

A cells x peaks AnnData is what most chromatin users hold. Here the demo's simulated scATAC
(`bz.datasets.demo_scatac()`: three cell types and a few doublets over the demo's peaks; the planted
labels are in `obs` only to check the result) goes through scanpy, then `bz.tl.predict` writes the
demo model's predictions into it, `bz.tl.score_cells` scores every cell for every track and
`bz.tl.annotate_cells` names each cluster's biosample. Where each result is stored:
`docs/single_cell.md`.""",
        """
import pandas as pd
import scanpy as sc

import bazenji as bz

bz.settings.progress = False
demo = bz.datasets.demo()
adata = bz.datasets.demo_scatac()
adata
""",
        """md:## Cells clustered by accessibility, as usual""",
        """
sc.pp.normalize_total(adata)
sc.pp.log1p(adata)
sc.pp.pca(adata, n_comps=20, random_state=0)
sc.pp.neighbors(adata, random_state=0)
sc.tl.leiden(adata, resolution=0.3, flavor="igraph", n_iterations=2, directed=False, random_state=0)
sc.tl.umap(adata, random_state=0)
sc.pl.umap(adata, color=["leiden", "planted_type"], wspace=0.4)
""",
        """md:## Predict every peak, into the object

With a real dataset: `bz.tl.predict(adata, "model_human.h5", "hg38.fa")`, and the 5,313 tracks of
the human model. The predictions land in `adata.varm["bz"]`, the track table in `adata.uns["bz"]`.""",
        """
bz.tl.predict(adata, "demo", demo.fasta)
adata.varm["bz"].shape, bz.get.tracks(adata)
""",
        """md:## Score cells, annotate clusters

`score_cells` reads raw counts (the `counts` layer here, since `X` was normalized).""",
        """
bz.tl.score_cells(adata, layer="counts")
table = bz.tl.annotate_cells(adata, "leiden")
table[table["rank"] == 1][["group", "biosample", "mean_score", "effect", "pval_adj"]]
""",
        """
pd.crosstab(adata.obs["leiden"], adata.obs["planted_type"])
""",
        """md:The annotation as a dot plot: clusters by their best biosamples, colour the mean score, size the
significance, the top hit outlined.""",
        """
bz.pl.cell_annotation(adata, n_top=2)
""",
        """md:Scores on the UMAP: `bz.get.scores` is a cells x tracks AnnData sharing the embedding.""",
        """
sc.pl.umap(bz.get.scores(adata), color=["DNASE_HepG2", "DNASE_K562", "DNASE_GM12878"], vmin=-3, vmax=3,
           cmap="RdBu_r")
""",
        """md:From the shell the same prediction is
`bazenji predict cells.h5ad --model model_human.h5 --genome hg38.fa -o annotated.h5ad`.""",
    ],
    out / "06_single_cell.ipynb",
)
