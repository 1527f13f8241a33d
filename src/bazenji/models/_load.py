"""Load Basenji2 weights from every format they are distributed in."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ._basenji2 import Basenji2
from ._config import Basenji2Config

logger = logging.getLogger("bazenji")

FORMATS = {
    "keras": "official Keras HDF5 (model_human.h5: full model or weights only)",
    "basenji2-pytorch": "basenji2-pytorch state dict (basenji2.pth)",
    "multimolecule": "multimolecule checkpoint directory (config.json + model.safetensors)",
    "bazenji": "bazenji directory written by Basenji2.save (config.json + model.safetensors)",
}
DEFAULT_GELU = {"keras": "sigmoid", "basenji2-pytorch": "erf", "multimolecule": "tanh"}
GELU_NOTE = {
    "keras": "the form the released model_human.h5 was trained with; Keras checkpoints trained with the official "
    "code after April 2022 need 'tanh'",
    "basenji2-pytorch": "the exact form basenji2-pytorch computes",
    "multimolecule": "the tanh approximation multimolecule computes",
}


def _formats_text() -> str:
    return "; ".join(f"{name}: {text}" for name, text in FORMATS.items())


def detect_format(path: str | Path) -> str:
    """The weight format of ``path``: one of ``bazenji.models.FORMATS``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model weights at {path}")
    if path.is_dir():
        config = path / "config.json"
        if not (config.exists() and (path / "model.safetensors").exists()):
            raise ValueError(
                f"{path} is a directory without config.json and model.safetensors; "
                f"formats understood: {_formats_text()}"
            )
        try:
            meta = json.loads(config.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{config} is not valid JSON ({err}); formats understood: {_formats_text()}") from err
        if not isinstance(meta, dict):
            raise ValueError(
                f"{config} holds a JSON {type(meta).__name__}, expected an object; "
                f"formats understood: {_formats_text()}"
            )
        if meta.get("format") == "bazenji":
            return "bazenji"
        if meta.get("model_type") == "basenji":
            return "multimolecule"
        raise ValueError(f"{config} is neither a bazenji nor a multimolecule config; formats: {_formats_text()}")
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic == b"\x89HDF\r\n\x1a\n":
        return "keras"
    if magic[:2] == b"PK" or magic[:1] == b"\x80":
        return "basenji2-pytorch"
    raise ValueError(f"{path} is not a file format bazenji reads; formats understood: {_formats_text()}")


def block_names(config: Basenji2Config) -> list[str]:
    """State-dict prefixes of the convolution blocks in execution order."""
    names = ["stem", *(f"tower.{i}" for i in range(len(config.tower_channels)))]
    for i in range(config.n_res_blocks):
        names += [f"residual.{i}.dilated", f"residual.{i}.project"]
    return [*names, "final"]


def config_from_kernels(kernels: list[tuple[int, int, int]], n_tracks: int, **defaults) -> Basenji2Config:
    """Widths from kernel shapes ``(out, in, k)`` in execution order; the rest from ``defaults`` or human."""
    stem, *middle, final = [tuple(getattr(k, "shape", k)) for k in kernels]
    tower = []
    for i, kernel in enumerate(middle):
        following = middle[i + 1] if i + 1 < len(middle) else None
        # A residual unit's 1x1 projection maps the bottleneck back to the unit's input width.
        if following is not None and following[2] == 1 and following[:2] == kernel[:2][::-1]:
            break
        tower.append(kernel)
    residual = middle[len(tower) :]
    if len(residual) % 2:
        raise ValueError(f"cannot split {len(middle)} middle convolutions into a tower and residual pairs")
    fields = dict(
        stem_channels=stem[0],
        stem_kernel=stem[2],
        tower_channels=tuple(k[0] for k in tower),
        tower_kernel=tower[0][2] if tower else 5,
        n_res_blocks=len(residual) // 2,
        res_kernel=residual[0][2] if residual else 3,
        bottleneck=residual[0][0] if residual else 384,
        final_channels=final[0],
        n_tracks=n_tracks,
    )
    return Basenji2Config(**{**defaults, **fields})


def _sibling_params(path: Path) -> Basenji2Config | None:
    params = path.with_name("params.json")
    if params.exists():
        logger.info("reading the architecture from %s next to the weights", params)
        return Basenji2Config.from_params(params)
    return None


#: the fields that decide what a set of weights computes (dropout and batch-norm momentum only matter in training)
_ARCHITECTURE = (
    "seq_length", "stem_channels", "stem_kernel", "tower_channels", "tower_kernel", "pool_size", "n_res_blocks",
    "res_kernel", "bottleneck", "dilations", "crop_bins", "final_channels", "n_tracks",
)  # fmt: skip


def _check_agrees(given: Basenji2Config, from_file: Basenji2Config, path: Path) -> None:
    differing = [f"{f}: config= {getattr(given, f)} vs file {getattr(from_file, f)}" for f in _ARCHITECTURE
                 if getattr(given, f) != getattr(from_file, f)]  # fmt: skip
    if differing:
        raise ValueError(f"config= disagrees with the model_config stored in {path}: " + "; ".join(differing))


def _inferred(kernels, n_tracks: int, gelu: str, path: Path) -> Basenji2Config:
    config = config_from_kernels(kernels, n_tracks, gelu=gelu)
    logger.warning(
        "%s carries no architecture (no model_config, no params.json beside it): widths and kernels come from the "
        "weight shapes; seq_length=%d, crop_bins=%d and dilations %s are the human model's (pass config= otherwise)",
        path.name, config.seq_length, config.crop_bins, config.dilations,
    )  # fmt: skip
    return config


def _resolve_config(config, inferred: Callable[[], Basenji2Config], path: Path) -> Basenji2Config:
    if isinstance(config, Basenji2Config):
        return config
    if isinstance(config, dict | str | Path):
        return Basenji2Config.from_params(config) if not (isinstance(config, dict) and "stem_channels" in config) else (
            Basenji2Config.from_dict(config)
        )  # fmt: skip
    if config is not None:
        raise TypeError(f"config={config!r}; expected a Basenji2Config, a calico params dict or a params JSON path")
    return _sibling_params(path) or inferred()


# --- official Keras HDF5 -------------------------------------------------------------------------------------


def _read_keras(path: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict | None, set[str]]:
    """Datasets per layer name, the ``model_config`` attribute, and every dataset path (to check consumption)."""
    import h5py

    layers: dict[str, dict[str, np.ndarray]] = {}
    paths: set[str] = set()
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 file ({err}); formats understood: {_formats_text()}") from err
    with handle:
        model_config = handle.attrs.get("model_config")
        root = handle["model_weights"] if "model_weights" in handle else handle

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                layer = name.split("/")[0]
                layers.setdefault(layer, {})[name.split("/")[-1].split(":")[0]] = obj[()]
                paths.add(f"{layer}/{name.split('/')[-1]}")

        root.visititems(visit)
    if isinstance(model_config, bytes):
        model_config = model_config.decode()
    return layers, (json.loads(model_config) if model_config is not None else None), paths


def _numbered(layers: dict, prefix: str) -> list[str]:
    pattern = re.compile(rf"^{prefix}(?:_(\d+))?$")
    found = [(int(m.group(1) or 0), name) for name in layers if (m := pattern.match(name))]
    return [name for _, name in sorted(found)]


def _config_from_keras_json(model_config: dict, **overrides) -> Basenji2Config:
    layers = model_config["config"]["layers"]
    by_class: dict[str, list[dict]] = {}
    for layer in layers:
        by_class.setdefault(layer["class_name"], []).append(layer["config"])
    convs, bns = by_class.get("Conv1D", []), by_class.get("BatchNormalization", [])
    inputs = by_class.get("InputLayer", [{}])[0]
    shape = inputs.get("batch_input_shape") or inputs.get("batch_shape")
    pools = by_class.get("MaxPooling1D", [])
    crops = by_class.get("Cropping1D", [])
    dropouts = [d["rate"] for d in by_class.get("Dropout", [])]
    dilations = [c["dilation_rate"][0] for c in convs]
    crop = crops[0]["cropping"] if crops else 0
    fields = dict(
        seq_length=int(shape[1]),
        pool_size=int(pools[0]["pool_size"][0]) if pools else 2,
        crop_bins=int(crop[0] if isinstance(crop, list) else crop),
        bn_eps=float(bns[0]["epsilon"]) if bns else 1e-3,
        bn_momentum=float(bns[0]["momentum"]) if bns else 0.9,
    )
    res_dilations = [d for d in dilations if d > 1]
    if len(res_dilations) >= 2:
        fields["dilation_rate"] = res_dilations[1] / res_dilations[0] if res_dilations[0] > 1 else 1.5
    if dropouts:
        fields.update(dropout=float(max(dropouts)), final_dropout=float(dropouts[-1]))
    n_tracks = by_class["Dense"][-1]["units"]
    widths = [4] + [c["filters"] for c in convs]
    shapes = [(c["filters"], widths[i], c["kernel_size"][0]) for i, c in enumerate(convs)]
    config = config_from_kernels(shapes, n_tracks, **fields, **overrides)
    expected = [1] * (1 + len(config.tower_channels))
    for d in config.dilations:
        expected += [d, 1]
    if expected + [1] != dilations:
        raise ValueError(f"Keras model dilations {dilations} do not match the Basenji2 schedule {expected + [1]}")
    return config


def _keras_gelu_declared(model_config: dict | None) -> str | None:
    if model_config is None:
        return None
    text = json.dumps(model_config)
    if '"approximate": true' in text:
        return "tanh"
    if '"class_name": "GELU"' in text:
        return "sigmoid"
    if "nn.gelu" in text:
        return "erf"
    return None


def _load_keras(path: Path, config, gelu: str) -> tuple[Basenji2, dict[str, np.ndarray], set[str]]:
    layers, model_config, paths = _read_keras(path)
    convs, bns = _numbered(layers, "conv1d"), _numbered(layers, "batch_normalization")
    dense = _numbered(layers, "dense")
    if not convs or not dense:
        raise ValueError(f"{path} holds no conv1d/dense layers of a Basenji2 Keras model; layers: {sorted(layers)[:8]}")
    kernels = [layers[name]["kernel"].transpose(2, 1, 0) for name in convs]
    declared = _keras_gelu_declared(model_config)
    if declared and declared != gelu:
        logger.warning(
            "%s: its model_config computes GELU as %r but bazenji uses gelu=%r; pass gelu=%r for the file's form",
            path.name, declared, gelu, declared,
        )  # fmt: skip

    if model_config is not None:  # the file describes itself: that wins, and a config= must agree with it
        from_file = _config_from_keras_json(model_config, gelu=gelu)
        if config is not None:
            _check_agrees(_resolve_config(config, lambda: None, path), from_file, path)
        config = from_file
    else:
        config = _resolve_config(
            config, lambda: _inferred(kernels, layers[dense[0]]["kernel"].shape[1], gelu, path), path
        )
    config = Basenji2Config.from_dict({**config.to_dict(), "gelu": gelu})
    names = block_names(config)
    if len(convs) != len(names) or len(bns) != len(names):
        raise ValueError(
            f"{path} has {len(convs)} convolutions and {len(bns)} batch norms; the config expects {len(names)} of each"
        )
    mapped, consumed = {}, set()
    for prefix, conv, bn, kernel in zip(names, convs, bns, kernels, strict=True):
        mapped[f"{prefix}.conv.weight"] = kernel
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):  # fmt: skip
            mapped[f"{prefix}.bn.{ours}"] = layers[bn].get(theirs)  # None: reported as missing
            consumed.add(f"{bn}/{theirs}:0")
        consumed.add(f"{conv}/kernel:0")
    mapped["head.weight"] = layers[dense[0]]["kernel"].T
    mapped["head.bias"] = layers[dense[0]].get("bias")
    consumed |= {f"{dense[0]}/kernel:0", f"{dense[0]}/bias:0"}
    return Basenji2(config), mapped, paths - consumed


def _map_blocks(
    state: dict, kernels: dict[str, np.ndarray], prefixes: list[str], *, conv: str, norm: str
) -> tuple[dict[str, np.ndarray], set[str]]:
    """Block weights from a torch-layout state dict: ``<prefix>.<conv>.weight`` and ``<prefix>.<norm>.*``."""
    mapped, consumed = {}, set()
    for (ours, kernel), prefix in zip(kernels.items(), prefixes, strict=True):
        mapped[f"{ours}.conv.weight"] = kernel
        consumed.add(f"{prefix}.{conv}.weight")
        for field in ("weight", "bias", "running_mean", "running_var"):
            mapped[f"{ours}.bn.{field}"] = state.get(f"{prefix}.{norm}.{field}")  # None: reported as missing
        consumed |= {f"{prefix}.{norm}.{field}" for field in ("weight", "bias", "running_mean", "running_var",
                                                               "num_batches_tracked")}  # fmt: skip
    return mapped, consumed


# --- basenji2-pytorch state dict -----------------------------------------------------------------------------


def _load_basenji2_pytorch(path: Path, config, gelu: str) -> tuple[Basenji2, dict[str, np.ndarray], set[str]]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not this format"
        raise ValueError(f"{path} is not a readable torch state dict ({err}); formats: {_formats_text()}") from err
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict; formats: {_formats_text()}")
    state = {k.removeprefix("module.").removeprefix("model."): v.numpy() for k, v in state.items()}
    tower_keys = sorted({int(k.split(".")[3]) for k in state if k.startswith("trunk.1.tower.")})
    res_keys = sorted({int(k.split(".")[3]) for k in state if k.startswith("trunk.2.block.")})
    theirs = ["trunk.0.block", *(f"trunk.1.tower.{i}.block" for i in tower_keys)]
    for i in res_keys:
        theirs += [f"trunk.2.block.{i}.module.0.block", f"trunk.2.block.{i}.module.1.block"]
    final = [k for k in state if re.match(r"trunk\.\d+\.block\.1\.weight$", k) and not k.startswith("trunk.0.")]
    if not final or "head.final.block.1.weight" not in state:
        raise ValueError(f"{path} is a state dict without basenji2-pytorch trunk/head keys; found {list(state)[:5]}")
    theirs.append(final[0].removesuffix(".1.weight"))
    kernels = [state[f"{p}.1.weight"] for p in theirs]
    head_weight = state["head.final.block.1.weight"]
    config = _resolve_config(config, lambda: _inferred(kernels, head_weight.shape[0], gelu, path), path)
    config = Basenji2Config.from_dict({**config.to_dict(), "gelu": gelu})
    names = block_names(config)
    if len(names) != len(theirs):
        raise ValueError(f"{path} has {len(theirs)} convolution blocks; the config expects {len(names)}")
    kernels = {ours: state[f"{prefix}.1.weight"] for ours, prefix in zip(names, theirs, strict=True)}
    mapped, consumed = _map_blocks(state, kernels, theirs, conv="1", norm="2")
    mapped.update({"head.weight": head_weight, "head.bias": state.get("head.final.block.1.bias")})
    consumed |= {"head.final.block.1.weight", "head.final.block.1.bias"}
    return Basenji2(config), mapped, set(state) - consumed


# --- multimolecule ---------------------------------------------------------------------------------------------


def _read_safetensors(path: Path, load_file) -> dict[str, np.ndarray]:
    try:
        return load_file(str(path / "model.safetensors"))
    except Exception as err:  # noqa: BLE001 - a corrupt or truncated file, whatever the library raises
        raise ValueError(
            f"{path / 'model.safetensors'} is not a readable safetensors file ({err}); formats understood: "
            f"{_formats_text()}"
        ) from err


def _multimolecule_config(path: Path, meta: dict, gelu: str) -> Basenji2Config:
    try:
        blocks = meta["blocks"]
        return Basenji2Config(
            seq_length=int(meta["sequence_length"]),
            stem_channels=int(meta["stem_channels"]),
            stem_kernel=int(meta["stem_kernel_size"]),
            pool_size=int(meta.get("stem_pool_size", 2)),
            tower_channels=tuple(meta["conv_tower_channels"]),
            tower_kernel=int(meta["conv_tower_kernel_size"]),
            n_res_blocks=int(blocks["num_blocks"]),
            res_kernel=int(blocks["kernel_size"]),
            bottleneck=int(blocks["bottleneck_size"]),
            dilation_start=float(blocks.get("dilation", 1)),
            dilation_rate=float(blocks["dilation_rate"]),
            round_dilation=bool(blocks.get("round_dilation", True)),
            dropout=float(blocks.get("dropout", 0.0)),
            crop_bins=int(meta["crop_bins"]),
            final_channels=int(meta["head_hidden_size"]),
            final_dropout=float(meta.get("hidden_dropout", 0.0)),
            n_tracks=int(meta["num_labels"]),
            bn_eps=float(meta.get("batch_norm_eps", 1e-3)),
            bn_momentum=1 - float(meta.get("batch_norm_momentum", 0.1)),
            gelu=gelu,
        )
    except KeyError as err:
        raise ValueError(f"{path / 'config.json'} lacks the multimolecule field {err.args[0]!r}") from None


def _load_multimolecule(path: Path, config, gelu: str) -> tuple[Basenji2, dict[str, np.ndarray], set[str]]:
    from safetensors.numpy import load_file

    meta = json.loads((path / "config.json").read_text())
    state = {k.removeprefix("model."): v for k, v in _read_safetensors(path, load_file).items()}
    if config is None:
        config = _multimolecule_config(path, meta, gelu)
    else:
        config = _resolve_config(config, lambda: None, path)
    config = Basenji2Config.from_dict({**config.to_dict(), "gelu": gelu})
    theirs = ["encoder.stem", *(f"encoder.conv_tower.{i}" for i in range(len(config.tower_channels)))]
    for i in range(config.n_res_blocks):
        theirs += [f"encoder.blocks.{i}.conv1", f"encoder.blocks.{i}.conv2"]
    theirs.append("encoder.head")
    kernels = {}
    for ours, prefix in zip(block_names(config), theirs, strict=True):
        if f"{prefix}.conv1.weight" not in state:
            raise ValueError(f"{path}: multimolecule checkpoint lacks {prefix}.conv1.weight for block {ours}")
        kernels[ours] = state[f"{prefix}.conv1.weight"]
    if kernels["stem"].shape[1] == 5:
        kernels["stem"] = kernels["stem"][:, :4]  # the N column multiplies an all-zero channel (official N encoding)
    mapped, consumed = _map_blocks(state, kernels, theirs, conv="conv1", norm="batch_norm1")
    mapped.update(
        {"head.weight": state.get("token_head.decoder.weight"), "head.bias": state.get("token_head.decoder.bias")}
    )
    consumed |= {"token_head.decoder.weight", "token_head.decoder.bias"}
    return Basenji2(config), mapped, set(state) - consumed


# --- bazenji's own format -------------------------------------------------------------------------------------


def _load_bazenji(path: Path, config, gelu: str | None) -> tuple[Basenji2, dict[str, np.ndarray], set[str]]:
    from safetensors.numpy import load_file

    meta = json.loads((path / "config.json").read_text())
    stored = Basenji2Config.from_dict(meta["config"])
    if config is not None:
        _check_agrees(_resolve_config(config, lambda: None, path), stored, path)
    if gelu is not None and gelu != stored.gelu:
        stored = Basenji2Config.from_dict({**stored.to_dict(), "gelu": gelu})
    state = _read_safetensors(path, load_file)
    model = Basenji2(stored)
    mapped = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    with torch.no_grad():  # not weights, but part of the state a further training run continues from
        for key, value in model.state_dict().items():
            if key.endswith("num_batches_tracked") and key in state:
                value.copy_(torch.from_numpy(np.asarray(state[key])).to(value.dtype))
    if (path / "targets.tsv").exists():
        import pandas as pd

        # track names stay text ("001", "NA"); only empty cells are missing values
        with (path / "targets.tsv").open(encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n").split("\t")
        table = pd.read_csv(path / "targets.tsv", sep="\t", index_col=0, dtype={header[0]: str},
                            keep_default_na=False, na_values=[""])  # fmt: skip
        if {"identifier", "description"} <= set(table.columns):  # a Basenji table: the dtypes read_targets gives
            from ..io import read_targets

            table = read_targets(table.reset_index(drop=True)).set_axis(table.index)
        model.targets = table
    return model, mapped, {k for k in state if k.endswith("num_batches_tracked")} - set(model.state_dict())


def assign_weights(model: Basenji2, mapped: dict[str, np.ndarray], *, source: str) -> None:
    """Copy ``mapped`` into ``model``, refusing any shape mismatch, missing or left-over weight."""
    state = model.state_dict()
    expected = {k for k in state if not k.endswith("num_batches_tracked")}
    missing = sorted((expected - set(mapped)) | {k for k, v in mapped.items() if v is None})
    extra = sorted(set(mapped) - expected)
    if missing or extra:
        raise ValueError(f"{source}: weights missing after mapping: {missing[:10]}; left over: {extra[:10]}")
    with torch.no_grad():
        for key, value in mapped.items():
            target = state[key]
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"{source}: layer {key.rsplit('.', 1)[0]} ({key}) expected shape {tuple(target.shape)}, "
                    f"found {tuple(value.shape)}"
                )
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(target.dtype))


def _with_gelu(model: Basenji2, gelu: str) -> Basenji2:
    """A copy of ``model`` computing GELU as ``gelu`` (same weights, track table and source)."""
    changed = Basenji2(Basenji2Config.from_dict({**model.config.to_dict(), "gelu": gelu}), targets=model.targets)
    changed.load_state_dict(model.state_dict())
    changed.source = dict(model.source)
    return changed


def load(
    source: str | Path | Basenji2,
    *,
    config: Basenji2Config | dict | str | Path | None = None,
    gelu: str | None = None,
    targets=None,
    tracks=None,
) -> Basenji2:
    """Load Basenji2 weights from any format they are distributed in; returns a model in eval mode.

    Parameters
    ----------
    source
        A path (format detected from the file: see :data:`FORMATS`), ``"demo"`` for the embedded demo
        model, or a :class:`Basenji2` (returned as is, with ``targets`` attached; a copy when ``gelu``
        asks for another form).
    config
        The architecture when the file does not carry it: a :class:`Basenji2Config`, a calico params
        dict or a params JSON path. A Keras file's own ``model_config`` always wins (a ``config`` that
        disagrees with it is an error); without either, a ``params.json`` next to the weights, else widths
        inferred from the weight shapes with the human model's length, crop and dilations (with a warning).
    gelu
        ``"sigmoid"``, ``"tanh"`` or ``"erf"``. Defaults per format: Keras ``"sigmoid"`` (what the
        released ``model_human.h5`` was trained with), basenji2-pytorch ``"erf"``, multimolecule ``"tanh"``,
        bazenji the saved value.
    targets
        A track table (path, DataFrame, or list of names) with one row per output track.
    tracks
        Track positions to keep; the head is sliced so only those are computed.
    """
    if isinstance(source, Basenji2):
        model = source
    elif str(source) == "demo":
        from ..datasets import demo_model

        model = demo_model()
    else:
        path = Path(source).expanduser()
        fmt = detect_format(path)
        loader = {
            "keras": _load_keras,
            "basenji2-pytorch": _load_basenji2_pytorch,
            "multimolecule": _load_multimolecule,
            "bazenji": _load_bazenji,
        }[fmt]
        if gelu is None and fmt in DEFAULT_GELU:
            gelu = DEFAULT_GELU[fmt]
            # Keras files do not say which GELU their weights were trained with, so the choice is shown.
            log = logger.warning if fmt == "keras" else logger.info
            log("%s: GELU form %r (%s); pass gelu='sigmoid'|'tanh'|'erf' to change it", path.name, gelu, GELU_NOTE[fmt])
        model, mapped, leftover = loader(path, config, gelu)
        if leftover:
            raise ValueError(f"{path}: weights left over after mapping to Basenji2: {sorted(leftover)[:10]}")
        assign_weights(model, mapped, source=str(path))
        model.source = {"format": fmt, "path": str(path.resolve())}
    if gelu is not None and gelu != model.config.gelu:  # a model object or the demo: files applied it already
        model = _with_gelu(model, gelu)
    if targets is not None:
        model.targets = targets
    if tracks is not None:
        model = model.select_tracks(tracks)
    return model.eval()
