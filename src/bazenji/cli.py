"""The ``bazenji`` command: ``predict``, ``sad``, ``export``, ``demo``."""

from __future__ import annotations

# Only the standard library at module level: each command's handler imports the library (torch, scanpy, anndata,
# zarr, numba: seconds), so `bazenji --help` and argument errors return without it (tests/test_cli_startup.py).
import argparse
import logging
import os
import sys
import time
from pathlib import Path


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers such as -1,0,1") from err


def _tracks(text: str | None):
    if text is None:
        return None
    if any(c in text for c in " =<>[]()!&|~"):  # a pandas query ("biosample in ['K562', 'HepG2']"): kept whole
        return text
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if all(p.lstrip("-").isdigit() for p in parts):
        return [int(p) for p in parts]
    return parts[0] if len(parts) == 1 else parts


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps or auto (default: bz.settings.device)")
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "bfloat16", "float16"],
        help="compute precision (default: float32; bfloat16 is faster, float16 on CUDA only)",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="windows per model call")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch and numba")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bazenji`` command."""
    parser = argparse.ArgumentParser(
        prog="bazenji",
        description="Basenji2 predictions for the scverse: genomic intervals in, regions x tracks AnnData out.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    predict = commands.add_parser(
        "predict",
        help="predict tracks for regions (BED/narrowPeak) into .h5ad or .zarr",
        description="Predict Basenji2 coverage for every region. With no REGIONS and no other inputs it runs the "
        "demo job (as `bazenji demo`: predictions, clusters, heatmap; -o names the predictions file); with no REGIONS "
        "but other options it predicts the demo regions with them.",
    )
    predict.add_argument(
        "regions", nargs="?", help="BED / narrowPeak / TSV of regions, an existing window store, or a cells x "
        "peaks .h5ad (predicted into varm['bz'] and written whole to -o)",
    )  # fmt: skip
    predict.add_argument("--genome", help="FASTA (with or without .fai; bgzip + .gzi works)")
    predict.add_argument("--model", help="weights: model_human.h5, basenji2.pth, a multimolecule or bazenji dir, demo")
    predict.add_argument("--targets", help="Basenji targets table (targets_human.txt) to use as the track table")
    predict.add_argument("--tracks", help="assay (CAGE), pandas query, identifiers or positions (comma-separated)")
    predict.add_argument("--rc", action="store_true", help="average with the reverse-complement prediction")
    predict.add_argument("--shifts", type=_int_list, default=[0], help="shift ensemble in bp, e.g. -1,0,1")
    predict.add_argument(
        "--mode",
        choices=["centered", "tiled"],
        default="centered",
        help="one window per region, or windows shared by nearby regions (default: centered)",
    )
    predict.add_argument(
        "--aggregate",
        choices=["mean", "sum", "max", "center"],
        default="mean",
        help="per-region value over the bins it overlaps (default: mean)",
    )
    predict.add_argument(
        "--keep-profiles",
        action="store_true",
        help="also write full binned profiles into the window store (with --store; else the temporary store "
        "is kept and named)",
    )
    predict.add_argument("--store", help="window store path (kept; reuse it to resume an interrupted run)")
    predict.add_argument("-o", "--output", help="OUT.h5ad or OUT.zarr (default: predictions.h5ad)")
    predict.add_argument(
        "--overwrite", action="store_true", help="replace an existing output, and a --store built from other windows"
    )
    _common(predict)

    sad = commands.add_parser(
        "sad",
        help="score variants (VCF) into a variants x tracks .h5ad or .zarr",
        description="Variant effects as basenji_sad.py computes them: SAD (alt minus ref summed over bins) per "
        "variant and track, with the official window placement, indel handling and reference check.",
    )
    sad.add_argument("vcf", help="VCF, plain or bgzipped (multi-allelic records are split, symbolic alleles skipped)")
    sad.add_argument("--genome", required=True, help="FASTA (with or without .fai; bgzip + .gzi works)")
    sad.add_argument("--model", required=True, help="weights: model_human.h5, basenji2.pth, a bazenji dir, demo")
    sad.add_argument("--targets", help="Basenji targets table (targets_human.txt) to use as the track table")
    sad.add_argument("--tracks", help="assay (CAGE), pandas query, identifiers or positions (comma-separated)")
    sad.add_argument("--rc", action="store_true", help="average with the reverse-complement prediction")
    sad.add_argument("--shifts", type=_int_list, default=[0], help="shift ensemble in bp, e.g. -1,0,1")
    sad.add_argument("--stats", default="SAD", help="comma-separated: SAD,SAR,logSAD,SAX,maxabs,D1,D2,REF,ALT or all")
    sad.add_argument("--n-zero", action="store_true", help="encode N all-zero instead of the official 0.25 each")
    sad.add_argument("--on-mismatch", choices=["score", "nan", "raise"], default="score",
                     help="REF matching neither the genome nor an ALT (default: %(default)s)")  # fmt: skip
    sad.add_argument("--float16", action="store_true", help="store scores as float16 (millions of variants)")
    sad.add_argument("--store", help="AnnData zarr store written chunk by chunk (kept; rerun with it to resume); "
                     "an OUT.zarr output is its own store")  # fmt: skip
    sad.add_argument("--chunk-variants", type=int, default=256, help="variants per chunk (default: %(default)s)")
    sad.add_argument("-o", "--output", help="OUT.h5ad, or OUT.zarr: scores streamed into it chunk by chunk, never "
                     "all in memory; rerun to resume (default: sad.h5ad)")  # fmt: skip
    sad.add_argument("--overwrite", action="store_true",
                     help="replace an existing output or --store (a .zarr output is otherwise resumed)")  # fmt: skip
    sad.add_argument("--vcf-out", help="also write the scores as a VCF (.vcf, .vcf.gz with a tabix index, or .bcf): "
                     "one INFO field per statistic and track, one value per ALT (Number=A)")  # fmt: skip
    sad.add_argument("--table-out", help="also write a tidy table, one row per variant and track (.tsv, .tsv.gz, or "
                     ".parquet with pyarrow)")  # fmt: skip
    _common(sad)

    export = commands.add_parser(
        "export",
        help="write a store's kept profiles as one bigWig (or bedGraph) per track, with an IGV session",
        description="Profiles kept by `bazenji predict --keep-profiles --store STORE` as one file per track in genomic "
        "coordinates (128 bp bins; overlapping windows merged base by base, each base from the window whose centre "
        "is nearest), chromosome sizes from the genome, plus tracks.tsv and igv_session.xml (and a UCSC hub.txt "
        "with --ucsc-genome).",
    )
    export.add_argument("store", help="window store with profiles, or a predictions .h5ad with obsm['bz_profile']")
    export.add_argument("-o", "--outdir", required=True, help="output folder (created when missing)")
    export.add_argument("--tracks", help="assay (CAGE), pandas query, identifiers or positions (comma-separated)")
    export.add_argument("--format", choices=["bigwig", "bedgraph"], default="bigwig",
                        help="one .bw or one text .bedGraph per track (default: %(default)s)")  # fmt: skip
    export.add_argument(
        "--genome", help="FASTA (its .fai) for chromosome sizes (default: the genome the store records)"
    )
    export.add_argument("--targets", help="track table (targets.tsv) whose descriptions label the tracks")
    export.add_argument("--model", help="or the model whose track table labels the tracks (demo, a weights file)")
    export.add_argument("--ucsc-genome", help="UCSC assembly (hg38): also write a single-file track hub, hub.txt")
    export.add_argument("--no-session", action="store_true", help="no igv_session.xml")
    export.add_argument("--overwrite", action="store_true", help="replace existing output files")
    export.add_argument("--threads", type=int, default=None, help="CPU threads")
    export.add_argument("--quiet", action="store_true", help="no progress bars")

    demo = commands.add_parser(
        "demo",
        help="the whole flow on the embedded demo: predictions, clusters and a heatmap",
        description="Predict the demo regions with the demo model, cluster them with scanpy, save a heatmap.",
    )
    demo.add_argument("-o", "--outdir", default="bazenji_demo_out", help="output folder (default: %(default)s)")
    _common(demo)
    return parser


def _setup(args) -> None:
    import bazenji as bz

    logging.basicConfig(format="%(levelname)s: %(message)s", stream=sys.stderr)
    if args.quiet:
        bz.settings.progress = False
    if args.threads:
        bz.settings.n_threads = args.threads


def _check_output(output: Path, overwrite: bool) -> None:
    """Refuse an output that cannot be written before any work is done, not after."""
    if output.suffix not in (".h5ad", ".zarr"):
        raise ValueError(f"output {output}: expected a .h5ad or .zarr path")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    folder = output.resolve().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"output folder {folder} does not exist; expected an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"output folder {folder} is not writable")


VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")
TABLE_SUFFIXES = (".tsv", ".tsv.gz", ".parquet")


def _check_extra(path: str | None, suffixes: tuple[str, ...], option: str, overwrite: bool) -> None:
    """Refuse an extra output (--vcf-out, --table-out) that cannot be written, before any scoring."""
    if path is None:
        return
    if not path.endswith(suffixes):
        raise ValueError(f"{option} {path}: expected a path ending in one of {list(suffixes)}")
    if path.endswith(".parquet"):
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ValueError(f"{option} {path}: parquet needs pyarrow (pip install pyarrow); a .tsv path needs nothing")
    output = Path(path)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    if not output.resolve().parent.is_dir():
        raise FileNotFoundError(
            f"{option} folder {output.resolve().parent} does not exist; expected an existing folder"
        )


def run_predict(args) -> int:
    """``bazenji predict``."""
    import bazenji as bz

    defaults = build_parser().parse_args(["predict"])
    options = ("genome", "model", "targets", "tracks", "rc", "shifts", "mode", "aggregate", "keep_profiles", "store")
    if args.regions is None and all(getattr(args, o) == getattr(defaults, o) for o in options):
        from .datasets._demo_job import run_demo

        output = Path(args.output or "bazenji_demo_out/predictions.h5ad")
        print(f"no regions given: running the demo job (as `bazenji demo -o {output.parent}`)", file=sys.stderr)
        return run_demo(outdir=output.parent, predictions=output, device=args.device, dtype=args.dtype,
                        batch_size=args.batch_size)  # fmt: skip
    output = Path(args.output or "predictions.h5ad")
    _check_output(output, args.overwrite)
    regions, genome, model = args.regions, args.genome, args.model
    if regions is None:
        demo = bz.datasets.demo()
        regions, genome, model = demo.regions_table(), genome or demo.fasta, model or "demo"
        print(f"no regions given: predicting the demo regions ({demo.regions})", file=sys.stderr)
    if model is None:
        raise ValueError("--model is required with REGIONS (weights file, or 'demo')")
    model = bz.models.load(model, targets=args.targets)
    if str(regions).endswith(".h5ad"):  # a regions or cells x peaks AnnData
        import anndata as ad

        regions = ad.read_h5ad(regions)
    tic = time.perf_counter()
    adata = bz.tl.predict(
        regions, model, genome, tracks=_tracks(args.tracks), mode=args.mode, aggregate=args.aggregate, rc=args.rc,
        shifts=args.shifts, store=args.store, keep_store=True if args.store else None, device=args.device,
        dtype=args.dtype, batch_size=args.batch_size, keep_profiles=args.keep_profiles, overwrite=args.overwrite,
    )  # fmt: skip
    seconds = time.perf_counter() - tic
    if adata is None:  # a cells x peaks AnnData: predicted into itself, written whole
        _write(regions, output)
        print(
            f"peaks     {regions.uns['bz']['n_peaks_predicted']:,} of {regions.n_vars:,} predicted into "
            f"varm['bz'] ({len(regions.uns['bz']['tracks']):,} tracks) in {seconds:.1f} s\nwritten   {output}"
        )
        return 0
    _write(adata, output)
    info = adata.uns["bazenji"]
    windows = info["windows"]
    print(
        f"regions   {adata.n_obs:,}\n"
        f"windows   {windows['n_windows']:,} ({windows['mode']}; {windows.get('n_windows_saved', 0):,} saved)\n"
        f"tracks    {adata.n_vars:,}\n"
        f"ensemble  rc={info['ensemble']['rc']} shifts={info['ensemble']['shifts']}\n"
        f"speed     {windows['n_windows'] / seconds:.2f} windows/s on {info['device']} ({info['dtype']}), "
        f"{seconds:.1f} s in all\n"
        f"written   {output}" + (f"\nstore     {info['store']}" if info.get("store") else "")
    )
    return 0


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _write(adata, output: Path) -> None:
    """Write ``.zarr`` outputs as zarr, anything else as ``.h5ad``.

    The file is written beside the output and renamed, so a failed write leaves no partial output behind
    (which a rerun would refuse as existing).
    """
    partial = output.with_name(f".{output.name}.partial")
    _remove(partial)
    try:
        adata.write_zarr(partial) if output.suffix == ".zarr" else adata.write_h5ad(partial)
    except BaseException:
        _remove(partial)
        raise
    _remove(output)
    os.replace(partial, output)


def run_sad(args) -> int:
    """``bazenji sad``.

    A ``.zarr`` output without ``--store`` is the store itself: scores go into it chunk by chunk and a rerun of the
    same command resumes it. Otherwise the scores are kept in memory (or streamed into ``--store``) and written to
    the output at the end.
    """
    import bazenji as bz

    output = Path(args.output or "sad.h5ad")
    streamed = output.suffix == ".zarr" and (args.store is None or Path(args.store).resolve() == output.resolve())
    _check_output(output, args.overwrite or streamed)  # an existing .zarr output is resumed (or refused) below
    store = output if streamed else args.store
    _check_extra(args.vcf_out, VCF_SUFFIXES, "--vcf-out", args.overwrite)
    _check_extra(args.table_out, TABLE_SUFFIXES, "--table-out", args.overwrite)
    model = bz.models.load(args.model, targets=args.targets)
    stats = [s.strip() for s in args.stats.split(",") if s.strip()]
    tic = time.perf_counter()
    adata = bz.tl.variant_effect(
        args.vcf, model, args.genome, tracks=_tracks(args.tracks), rc=args.rc, shifts=args.shifts,
        stats="all" if stats == ["all"] else stats, n_value=0.0 if args.n_zero else 0.25,
        on_mismatch=args.on_mismatch, out_dtype="float16" if args.float16 else "float32", store=store,
        overwrite=args.overwrite, chunk_variants=args.chunk_variants, device=args.device, dtype=args.dtype,
        batch_size=args.batch_size,
    )  # fmt: skip
    seconds = time.perf_counter() - tic
    if not streamed:
        _write(adata, output)
    extra = []
    if args.vcf_out:
        fields = bz.io.write_vcf(adata, args.vcf_out, genome=args.genome)
        extra.append(f"vcf       {args.vcf_out} ({len(fields):,} INFO fields: statistic x track)")
    if args.table_out:
        bz.io.write_variant_table(adata, args.table_out)
        extra.append(f"table     {args.table_out} ({adata.n_obs * adata.n_vars:,} rows: variant x track)")
    info = adata.uns["bazenji"]
    skipped = sum(info.get("skipped", {}).values())
    print(
        f"variants  {adata.n_obs:,} at {info['n_sites']:,} sites ({skipped:,} alleles skipped)\n"
        f"reference {info['n_ref_swapped']:,} swapped to the ALT in the genome, "
        f"{info['n_ref_mismatch']:,} matching no allele\n"
        f"tracks    {adata.n_vars:,}; stats {', '.join(info['stats'])}\n"
        f"ensemble  rc={info['ensemble']['rc']} shifts={info['ensemble']['shifts']}\n"
        f"speed     {adata.n_obs / seconds:.2f} variants/s on {info['device']} ({info['dtype']}), {seconds:.1f} s\n"
        f"written   {output}"
        + (f"\nstore     {store}" if store is not None and not streamed else "")
        + "".join(f"\n{line}" for line in extra)
    )
    return 0


def run_export(args) -> int:
    """``bazenji export``."""
    import bazenji as bz

    if args.targets and args.model:
        raise ValueError("--targets and --model both name a track table; expected one of them")
    source = args.store
    if str(source).endswith(".h5ad"):
        import anndata as ad

        source = ad.read_h5ad(source)
    targets = args.targets or (bz.models.load(args.model) if args.model else None)
    manifest = bz.io.write_bigwig(
        source, args.outdir, tracks=_tracks(args.tracks), genome=args.genome, targets=targets, format=args.format,
        session=not args.no_session, ucsc_genome=args.ucsc_genome, overwrite=args.overwrite,
    )  # fmt: skip
    outdir = Path(args.outdir)
    shown = ", ".join(manifest.index[:5]) + (", ..." if len(manifest) > 5 else "")
    lines = [
        f"exported  {len(manifest):,} {args.format} files ({shown}) to {outdir}",
        f"manifest  {outdir / 'tracks.tsv'}",
    ]
    if not args.no_session:
        lines.append(f"session   {outdir / 'igv_session.xml'}")
    if args.ucsc_genome:
        lines.append(f"hub       {outdir / 'hub.txt'}")
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``bazenji`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    _setup(args)
    try:
        if args.command == "predict":
            return run_predict(args)
        if args.command == "sad":
            return run_sad(args)
        if args.command == "export":
            return run_export(args)
        from .datasets._demo_job import run_demo

        return run_demo(outdir=args.outdir, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    except (ValueError, KeyError, TypeError, OSError) as err:  # OSError: missing, existing or unwritable files
        # the library's advice names its keyword; on the command line the same switch is --overwrite
        print(f"bazenji {args.command}: error: {str(err).replace('overwrite=True', '--overwrite')}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
