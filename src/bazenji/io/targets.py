"""Track tables: Basenji targets files read into an AnnData-ready ``var`` table, and track selection.

A Basenji targets file is tab-separated with one row per output track of the model, in output order:
``index, genome, identifier, file, clip, scale, sum_stat, description`` and optionally ``strand_pair``.
The description starts with the assay, ``DNASE:<biosample>``, ``ATAC:<biosample>``, ``CAGE:<biosample>`` or
``CHIP:<target>:<biosample>``; :func:`read_targets` splits it into ``assay``, ``target`` and ``biosample``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._names import make_unique, show

__all__ = ["UNKNOWN_ASSAY", "TrackSelection", "default_targets", "read_targets", "select_tracks", "strand_partners"]

#: ``assay`` of a track whose description has no ``PREFIX:`` to read the assay from.
UNKNOWN_ASSAY = "unknown"

#: What ``tracks=`` accepts wherever tracks are chosen (see :func:`select_tracks`).
TrackSelection = None | int | slice | str | Sequence[int] | Sequence[str] | Sequence[bool] | np.ndarray | pd.Series

_REQUIRED = ("identifier", "description")
# Output column order; columns after the parsed ones appear only when the input has them.
_ORDER = ("identifier", "description", "assay", "target", "biosample", "clip", "scale", "sum_stat", "strand_pair")
_TAIL = ("index", "genome", "file")
# An assay prefix is one token: "CHIP:", "DNASE:", "RNA-seq:"; a description such as "liver, adult" has none.
_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.-]*)\s*:(.*)$", re.DOTALL)


def read_targets(path_or_df: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Read a Basenji track table into a DataFrame ready to be AnnData ``var``.

    Parameters
    ----------
    path_or_df
        A tab-separated Basenji targets file (the header may name the first column ``index`` or leave it
        empty, as ``basenji_data.py`` writes it), or a DataFrame with the same columns. ``identifier`` and
        ``description`` are required; ``index``, ``genome``, ``file``, ``clip``, ``scale``, ``sum_stat`` and
        ``strand_pair`` are kept when present, and any other column is kept after them.

    Returns
    -------
    The track table, one row per track in the model's output order, with the columns listed under Notes.

    Raises
    ------
    FileNotFoundError
        ``path_or_df`` is a path that does not exist.
    ValueError
        ``identifier`` or ``description`` is missing, or the file cannot be parsed as a table.

    Notes
    -----
    The index holds unique track names, the ``identifier`` with ``-1``, ``-2`` ... appended to repeats (a
    warning says which), or ``track_<i>`` for a missing identifier. The columns, all writable to ``.h5ad`` and
    ``.zarr``, are

    ``identifier``, ``description``
        As in the table (strings).
    ``assay``
        Categorical: the description prefix before the first ``:``, upper-cased (``DNASE``, ``ATAC``,
        ``CHIP``, ``CAGE``, or any other prefix such as ``RNA``); :data:`UNKNOWN_ASSAY` (``"unknown"``)
        when the description has no one-word prefix.
    ``target``
        Categorical: for ``CHIP:<target>:<biosample>``, the text between the first and second ``:``
        (``CTCF``, ``H3K27ac``); missing (NaN) for every other assay.
    ``biosample``
        Categorical: for ChIP, everything after the second ``:``; for other assays, everything after the
        first ``:`` (so ``CAGE:lung adenocarcinoma cell line:PC-14`` keeps its inner colon). Missing (NaN)
        when there is nothing after the prefix or no prefix.
    ``clip``, ``scale``, ``sum_stat`` (categorical), ``strand_pair``, ``index``, ``genome``, ``file``
        As in the table, when present, followed by any other column of the input.
    """
    table = _load(path_or_df)
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(
            f"track table lacks column(s) {missing}; expected {list(_REQUIRED)}, got {list(table.columns)}"
        )

    out = table.reset_index(drop=True).copy()
    out["identifier"] = _as_str(out["identifier"])
    out["description"] = _as_str(out["description"])
    assay, target, biosample = _parse_descriptions(out["description"])
    out["assay"] = pd.Categorical(assay)
    out["target"] = pd.Categorical(target)
    out["biosample"] = pd.Categorical(biosample)
    if "sum_stat" in out.columns:
        out["sum_stat"] = pd.Categorical(_as_str(out["sum_stat"]))
    if "file" in out.columns:
        out["file"] = _as_str(out["file"])

    known = [c for c in (*_ORDER, *_TAIL) if c in out.columns]
    extra = [c for c in out.columns if c not in known]
    for column in extra:
        if out[column].dtype == object:
            out[column] = _as_str(out[column])
    out = out[known + extra]
    out.index = pd.Index(_unique_names(out["identifier"]), dtype=object)
    return out


def default_targets(n_tracks: int) -> pd.DataFrame:
    """The track table of a model that comes without one.

    Parameters
    ----------
    n_tracks
        Number of output tracks of the model.

    Returns
    -------
    ``n_tracks`` rows named ``track_0`` ... ``track_{n_tracks - 1}``, with the same names in ``identifier``.

    Raises
    ------
    ValueError
        ``n_tracks`` is not a positive integer.

    Notes
    -----
    ``identifier`` is the only column. There is deliberately no ``assay`` (or any other parsed) column, so code
    that uses a track table cannot come to rely on the human one.
    """
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int | np.integer) or n_tracks < 1:
        raise ValueError(f"n_tracks={n_tracks!r}; expected a positive integer")
    names = [f"track_{i}" for i in range(int(n_tracks))]
    return pd.DataFrame({"identifier": names}, index=pd.Index(names, dtype=object))


def strand_partners(table: pd.DataFrame | None) -> np.ndarray | None:
    """Each track's strand partner as a row position of ``table``; None without a ``strand_pair`` column.

    ``strand_pair`` names the partner by its ``index`` (the targets file's first column, kept by
    :func:`read_targets`), as the official code does, so a subset of a table still pairs correctly. A track
    whose partner is not in ``table``, or that has none (missing value), is its own partner.
    """
    if table is None or "strand_pair" not in table.columns:
        return None
    ids = table["index"].to_numpy() if "index" in table.columns else np.arange(len(table))
    position_of = {int(i): p for p, i in enumerate(ids)}
    pairs = pd.to_numeric(table["strand_pair"], errors="coerce").to_numpy()
    return np.array([p if np.isnan(pair) else position_of.get(int(pair), p) for p, pair in enumerate(pairs)], np.int64)


def select_tracks(table: pd.DataFrame, tracks: TrackSelection = None) -> np.ndarray:
    """Positions of the tracks ``tracks`` selects in ``table``.

    Parameters
    ----------
    table
        A track table as returned by :func:`read_targets` or :func:`default_targets` (or an AnnData, whose
        ``var`` is used).
    tracks
        Which tracks:

        - ``None``: all of them;
        - an int, a slice, or a sequence/array of ints: positions (negative ones count from the end);
        - a str or a sequence of str: track names (the table's index) or identifiers;
        - a boolean sequence/array/Series of the table's length: a mask (a Series is used by position);
        - a str naming an assay present in ``table["assay"]``, case-insensitive (``"cage"``, ``"CHIP"``);
        - any other str: a pandas expression over the table's columns that evaluates to a boolean mask,
          e.g. ``"assay == 'CHIP' and target == 'CTCF'"``.

        A single str is tried in that order: track name or identifier, assay, expression.

    Returns
    -------
    int64 positions into ``table``, in the order given for positions, names and identifiers, else in table order.

    Raises
    ------
    ValueError
        A position out of range, an unknown name or identifier (up to five are named), an identifier shared by
        several tracks, a repeated track, a mask of the wrong length, an expression that fails or is not
        boolean, or a selection of no tracks at all.
    """
    if hasattr(table, "var") and not isinstance(table, pd.DataFrame):
        table = table.var
    n = len(table)
    if tracks is None:
        return np.arange(n, dtype=np.int64)
    if isinstance(tracks, slice):
        positions = np.arange(n, dtype=np.int64)[tracks]
    elif isinstance(tracks, str):
        positions = _select_str(table, tracks)
    elif isinstance(tracks, int | np.integer) and not isinstance(tracks, bool | np.bool_):
        positions = _check_positions(np.array([tracks], dtype=np.int64), n)
    else:
        positions = _select_many(table, tracks)
    if positions.size == 0:
        raise ValueError(f"tracks={_short(tracks)} selects no tracks out of {n}; expected at least one")
    return positions


def _load(path_or_df) -> pd.DataFrame:
    if isinstance(path_or_df, pd.DataFrame):
        return path_or_df
    if not isinstance(path_or_df, str | os.PathLike):
        raise TypeError(f"path_or_df={path_or_df!r}; expected a path to a targets file or a DataFrame")
    path = Path(path_or_df)
    if not path.is_file():
        raise FileNotFoundError(f"track table {str(path)!r} does not exist")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"identifier": str, "description": str, "file": str})
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"track table {str(path)!r} is empty; expected a tab-separated header naming at least identifier and "
            "description, then one row per track"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {str(path)!r} as a tab-separated track table: {err}") from err
    if table.empty:
        raise ValueError(
            f"track table {str(path)!r} has a header ({list(table.columns)}) but no tracks; expected one row per track"
        )
    first = table.columns[0] if len(table.columns) else None
    if isinstance(first, str) and (first == "" or first.startswith("Unnamed: 0")):
        table = table.rename(columns={first: "index"})
    return table


def _as_str(values: pd.Series) -> pd.Series:
    """Strings with missing values kept missing, so the column writes to h5ad as strings."""
    return values.map(lambda v: v if pd.isna(v) else str(v)).astype(object)


def _parse_descriptions(descriptions: pd.Series) -> tuple[list, list, list]:
    assays, targets, biosamples = [], [], []
    for text in descriptions:
        match = _PREFIX.match(text) if isinstance(text, str) else None
        if match is None:
            assays.append(UNKNOWN_ASSAY)
            targets.append(None)
            biosamples.append(None)
            continue
        assay, rest = match.group(1).upper(), match.group(2)
        target = None
        if assay == "CHIP":
            target, _, rest = rest.partition(":")
            target = target.strip() or None
        assays.append(assay)
        targets.append(target)
        biosamples.append(rest.strip() or None)
    return assays, targets, biosamples


def _unique_names(identifiers: pd.Series) -> list[str]:
    missing = [pd.isna(v) or v == "" for v in identifiers]
    if any(missing):
        warnings.warn(f"{sum(missing)} track(s) have no identifier; named track_<position>", UserWarning, stacklevel=3)
    names = [f"track_{i}" if m else v for i, (v, m) in enumerate(zip(identifiers, missing, strict=True))]
    names, repeated = make_unique(names)
    if repeated:
        warnings.warn(
            f"{len(repeated)} repeated track identifier(s) ({show(list(dict.fromkeys(repeated)))}) made unique by "
            "appending -1, -2, ...; the original stays in the 'identifier' column",
            UserWarning,
            stacklevel=3,
        )
    return names


def _select_str(table: pd.DataFrame, text: str) -> np.ndarray:
    if text in table.index or ("identifier" in table.columns and (table["identifier"] == text).any()):
        return _positions_of_names(table, [text])
    if "assay" in table.columns:
        assays = table["assay"].astype(str).str.upper()
        if (assays == text.strip().upper()).any():
            return np.flatnonzero(assays.to_numpy() == text.strip().upper()).astype(np.int64)
    try:
        mask = table.eval(text)
    except Exception as err:  # pandas raises many types for a bad expression; all mean the same here
        known = sorted(table["assay"].astype(str).unique()) if "assay" in table.columns else "none: no assay column"
        raise ValueError(
            f"tracks={text!r} is not a track name or identifier, not an assay (present: {known}), and not a "
            f"valid expression on columns {list(table.columns)}: {err}"
        ) from err
    if not isinstance(mask, pd.Series) or mask.dtype != bool or len(mask) != len(table):
        raise ValueError(f"tracks={text!r} evaluates to {type(mask).__name__}, not a boolean mask over the tracks")
    return np.flatnonzero(mask.to_numpy()).astype(np.int64)


def _select_many(table: pd.DataFrame, tracks) -> np.ndarray:
    n = len(table)
    if isinstance(tracks, pd.Series | pd.Index):
        values = tracks.to_numpy()
    elif isinstance(tracks, np.ndarray):
        values = tracks
    elif isinstance(tracks, set | frozenset):
        raise ValueError(f"tracks={_short(tracks)} is a set; pass a list so the order is defined")
    elif isinstance(tracks, Sequence):
        values = list(tracks)
    else:
        raise ValueError(
            f"tracks={_short(tracks)}; expected None, int positions, names, a boolean mask, an assay or a query"
        )
    if len(values) == 0:
        raise ValueError("tracks=[] is an empty selection; pass None for all tracks")
    if isinstance(values, list):
        kinds = {_kind(v) for v in values}
        if len(kinds) > 1:
            raise ValueError(
                f"tracks={_short(tracks)} mixes {sorted(kinds)}; expected all positions, all names or a mask"
            )
        values = np.asarray(values, dtype=object if kinds == {"name"} else None)
    if values.dtype == bool:
        if len(values) != n:
            raise ValueError(f"boolean mask tracks has length {len(values)}, expected {n} (one per track)")
        return np.flatnonzero(values).astype(np.int64)
    if np.issubdtype(values.dtype, np.integer):
        return _check_positions(values.astype(np.int64), n)
    if values.dtype == object or values.dtype.kind == "U":
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"tracks={_short(tracks)}; expected all positions, all names or a mask")
        return _positions_of_names(table, list(values))
    raise ValueError(f"tracks={_short(tracks)} has dtype {values.dtype}; expected ints, strings or booleans")


def _kind(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "position"
    if isinstance(value, str):
        return "name"
    return type(value).__name__


def _check_positions(positions: np.ndarray, n: int) -> np.ndarray:
    bad = positions[(positions < -n) | (positions >= n)]
    if bad.size:
        raise ValueError(f"track position(s) {show(bad.tolist())} out of range for {n} tracks (expected -{n}..{n - 1})")
    positions = np.where(positions < 0, positions + n, positions)
    _check_unique(positions, positions.tolist())
    return positions


def _positions_of_names(table: pd.DataFrame, names: list[str]) -> np.ndarray:
    by_name = {name: i for i, name in enumerate(table.index)}
    by_identifier: dict[str, list[int]] = {}
    for i, identifier in enumerate(table["identifier"] if "identifier" in table.columns else ()):
        by_identifier.setdefault(identifier, []).append(i)
    positions, unknown = [], []
    for name in names:
        hits = [by_name[name]] if name in by_name else by_identifier.get(name, [])
        if len(hits) > 1:
            raise ValueError(
                f"identifier {name!r} is shared by tracks {show(table.index[hits].tolist())}; select by these "
                "unique track names or by position"
            )
        if hits:
            positions.append(hits[0])
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(f"{len(unknown)} unknown track name(s) or identifier(s): {show(unknown)}")
    positions = np.asarray(positions, dtype=np.int64)
    _check_unique(positions, table.index[positions].tolist())
    return positions


def _check_unique(positions: np.ndarray, labels: list) -> None:
    seen: set[int] = set()
    repeated = []
    for position, label in zip(positions.tolist(), labels, strict=True):
        if position in seen:
            repeated.append(label)
        seen.add(position)
    if repeated:
        raise ValueError(
            f"track(s) {show(list(dict.fromkeys(repeated)))} selected more than once; expected each at most once"
        )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
