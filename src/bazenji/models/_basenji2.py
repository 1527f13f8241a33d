"""The Basenji2 network in PyTorch."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._config import Basenji2Config
from ._inference import InferencePlan, track_index

logger = logging.getLogger("bazenji")


def gelu(x: torch.Tensor, form: str) -> torch.Tensor:
    """GELU in one of the three forms Basenji2 checkpoints were trained with."""
    if form == "sigmoid":
        return x * torch.sigmoid(1.702 * x)
    if form == "tanh":
        return F.gelu(x, approximate="tanh")
    return F.gelu(x)


class ConvBlock(nn.Module):
    """GELU -> convolution (no bias) -> batch norm -> dropout -> max pool, the official ``conv_block``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        dilation: int = 1,
        pool_size: int = 1,
        dropout: float = 0.0,
        config: Basenji2Config,
    ) -> None:
        super().__init__()
        self.gelu_form = config.gelu
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, padding=dilation * (kernel_size - 1) // 2, dilation=dilation,
            bias=False,
        )  # fmt: skip
        # Keras momentum is the weight of the old running value, torch's the weight of the new batch.
        self.bn = nn.BatchNorm1d(out_channels, eps=config.bn_eps, momentum=1 - config.bn_momentum)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.pool = nn.MaxPool1d(pool_size) if pool_size > 1 else nn.Identity()
        self.register_buffer("_fused_weight", None, persistent=False)
        self.register_buffer("_fused_bias", None, persistent=False)
        self._fused_key: tuple | None = None

    def fused_parameters(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Convolution weight and bias with the batch norm folded in, cached until a parameter changes."""
        parameters = (self.conv.weight, self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var)
        key = (dtype, self.conv.weight.device, *(p._version for p in parameters), *(p.data_ptr() for p in parameters))
        if key != self._fused_key:
            with torch.no_grad():
                scale = self.bn.weight.double() / torch.sqrt(self.bn.running_var.double() + self.bn.eps)
                weight = self.conv.weight.double() * scale[:, None, None]
                bias = self.bn.bias.double() - self.bn.running_mean.double() * scale
            self._fused_weight = weight.to(dtype).contiguous()
            self._fused_bias = bias.to(dtype)
            self._fused_key = key
        return self._fused_weight, self._fused_bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = gelu(x, self.gelu_form)
        if self.training or not torch.is_inference_mode_enabled():
            x = self.dropout(self.bn(self.conv(x)))
        else:
            weight, bias = self.fused_parameters(x.dtype)
            x = F.conv1d(x, weight, bias, padding=self.conv.padding, dilation=self.conv.dilation)
        return self.pool(x)


class ResidualBlock(nn.Module):
    """Dilated bottleneck convolution, 1x1 convolution back to the trunk width, added to the input."""

    def __init__(self, channels: int, dilation: int, config: Basenji2Config) -> None:
        super().__init__()
        self.dilated = ConvBlock(channels, config.bottleneck, config.res_kernel, dilation=dilation, config=config)
        self.project = ConvBlock(config.bottleneck, channels, 1, dropout=config.dropout, config=config)
        # The official code starts the second batch norm at gamma = 0, so every unit starts as identity.
        nn.init.zeros_(self.project.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.dilated(x))


class Basenji2(nn.Module):
    """Basenji2 (Kelley 2020): one-hot DNA in, binned coverage tracks out.

    Parameters
    ----------
    config
        The architecture; :meth:`Basenji2Config.human` by default.
    targets
        The track table (a DataFrame from :func:`bazenji.io.read_targets` or a list of track names);
        its length must equal ``config.n_tracks``.

    Notes
    -----
    In eval mode under :func:`torch.inference_mode` the model runs its :meth:`inference_plan`: batch
    norm folded into the convolutions, activations kept channels-last from input to head, activations
    and residual adds fused into the convolutions where oneDNN allows (cached, rebuilt when a parameter
    changes; float32 results equal the module path to about 1e-6). The network then computes in the
    dtype of a floating input, so ``model(x.bfloat16())`` runs in bfloat16 with float32 master weights
    and a float32 residual stream. Training mode and autograd use the plain modules.
    """

    def __init__(self, config: Basenji2Config | None = None, *, targets=None) -> None:
        super().__init__()
        self.config = config = Basenji2Config.human() if config is None else config
        self.stem = ConvBlock(4, config.stem_channels, config.stem_kernel, pool_size=config.pool_size, config=config)
        tower, width = [], config.stem_channels
        for out in config.tower_channels:
            tower.append(ConvBlock(width, out, config.tower_kernel, pool_size=config.pool_size, config=config))
            width = out
        self.tower = nn.Sequential(*tower)
        self.residual = nn.Sequential(*(ResidualBlock(width, d, config) for d in config.dilations))
        self.final = ConvBlock(width, config.final_channels, 1, dropout=config.final_dropout, config=config)
        self.head = nn.Linear(config.final_channels, config.n_tracks)
        self.targets = targets
        self.source: dict = {"format": "new", "path": None}

    @property
    def targets(self) -> pd.DataFrame | None:
        """The track table (``var`` of predictions), or ``None``."""
        return self._targets

    @targets.setter
    def targets(self, value) -> None:
        if value is None:
            self._targets = None
            return
        if not isinstance(value, pd.DataFrame):
            from ..io import read_targets

            if isinstance(value, str | Path):
                value = read_targets(value)
            else:
                value = pd.DataFrame(index=[str(v) for v in value])
        if len(value) != self.config.n_tracks:
            raise ValueError(
                f"track table has {len(value)} tracks but the model has {self.config.n_tracks} outputs; "
                "expected a table with one row per model track"
            )
        self._targets = value

    @property
    def track_names(self) -> list[str]:
        """Track names: the table's index, or ``track_0 ... track_{n-1}`` without a table."""
        if self._targets is None:
            return [f"track_{i}" for i in range(self.config.n_tracks)]
        return [str(i) for i in self._targets.index]

    def _check_input(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
        if x.ndim != 3 or x.shape[-1] != 4:
            raise ValueError(f"input of shape {tuple(x.shape)}; expected one-hot (batch, length, 4)")
        if x.shape[1] % self.config.bin_size:
            raise ValueError(f"input length {x.shape[1]} is not a multiple of the bin size {self.config.bin_size}")
        minimum = (2 * self.config.crop_bins + 1) * self.config.bin_size
        if x.shape[1] < minimum:
            raise ValueError(f"input length {x.shape[1]}: the crop leaves no bins; expected at least {minimum} bp")
        dtype = x.dtype if (self._fast_inference() and x.is_floating_point()) else self.head.weight.dtype
        return x, dtype

    def _fast_inference(self) -> bool:
        return not self.training and torch.is_inference_mode_enabled()

    def inference_plan(self, dtype: torch.dtype | None = None, device: torch.device | None = None) -> InferencePlan:
        """The prepared inference path for ``dtype`` on ``device``, rebuilt when a parameter changes.

        Parameters
        ----------
        dtype
            Compute dtype; the parameters' dtype by default.
        device
            The parameters' device by default.
        """
        dtype = self.head.weight.dtype if dtype is None else dtype
        device = self.head.weight.device if device is None else torch.device(device)
        tensors = [t for name, t in self.state_dict(keep_vars=True).items() if not name.endswith("num_batches_tracked")]
        key = tuple((t._version, t.data_ptr()) for t in tensors)
        plans = self.__dict__.setdefault("_inference_plans", {})
        entry = plans.get((dtype, device))
        if entry is None or entry[0] != key:
            plans.pop((dtype, device), None)  # free the stale copy before building the new one
            entry = plans[(dtype, device)] = (key, InferencePlan(self, dtype, device))
        return entry[1]

    def __getstate__(self) -> dict:
        # Inference plans are caches derived from the parameters: pickles and deep copies rebuild them.
        state = self.__dict__.copy()
        state.pop("_inference_plans", None)
        return state

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, bins, final_channels)``: the head's input, after cropping and the last GELU."""
        x, dtype = self._check_input(x)
        if self._fast_inference():
            return self.inference_plan(dtype, x.device).trunk(x)
        x = x.to(dtype).transpose(1, 2)
        stream = self.tower(self.stem(x))
        # The residual stream accumulates eleven updates: it stays in the parameters' precision even when the
        # convolutions run in bfloat16/float16, which is what keeps low-precision outputs close to float32.
        stream = stream.to(self.head.weight.dtype)
        for unit in self.residual:
            stream = stream + unit.project(unit.dilated(stream.to(dtype))).to(stream.dtype)
        crop = self.config.crop_bins
        if crop:
            stream = stream[:, :, crop:-crop]
        return gelu(self.final(stream.to(dtype)), self.config.gelu).transpose(1, 2)

    def forward(self, x: torch.Tensor, *, tracks=None) -> torch.Tensor:
        """Coverage ``(batch, bins, tracks)`` after softplus for one-hot ``x`` of shape ``(batch, length, 4)``.

        Parameters
        ----------
        x
            One-hot DNA, channels A, C, G, T; uint8 or any float dtype (in inference mode a floating
            dtype is the compute dtype of the convolutions).
        tracks
            Integer positions of the tracks to compute; only those head rows are evaluated.

        Returns
        -------
        Coverage in the parameters' dtype (float32 for loaded models).
        """
        weight, bias = self.head.weight, self.head.bias
        index = None
        if tracks is not None:
            index = track_index(tracks, self.config.n_tracks, weight.device)
        if self._fast_inference():
            x, dtype = self._check_input(x)
            plan = self.inference_plan(dtype, x.device)
            return plan.head(plan.trunk(x), index)
        embedding = self.trunk(x).to(weight.dtype)
        if tracks is not None:
            weight, bias = weight.index_select(0, index), bias.index_select(0, index)
        return F.softplus(F.linear(embedding, weight, bias))

    def select_tracks(self, tracks) -> Basenji2:
        """A model that computes only ``tracks`` (positions), sharing the trunk with this one."""
        index = track_index(tracks, self.config.n_tracks).numpy()
        config = Basenji2Config.from_dict({**self.config.to_dict(), "n_tracks": int(index.size)})
        new = Basenji2.__new__(Basenji2)
        nn.Module.__init__(new)
        new.config = config
        new.stem, new.tower, new.residual, new.final = self.stem, self.tower, self.residual, self.final
        new.head = nn.Linear(config.final_channels, config.n_tracks).to(self.head.weight)
        with torch.no_grad():
            new.head.weight.copy_(self.head.weight[torch.as_tensor(index)])
            new.head.bias.copy_(self.head.bias[torch.as_tensor(index)])
        table = self._targets
        if table is not None and "strand_pair" in table.columns and "index" not in table.columns:
            table = table.assign(index=np.arange(len(table)))  # what strand_pair refers to, kept for the subset
        new._targets = None if table is None else table.iloc[index]
        new.source = {**self.source, "tracks": index.tolist()}
        new.train(self.training)
        return new

    def replace_head(self, targets) -> Basenji2:
        """A copy of this model with a new, freshly initialised head for another track set (fine-tuning).

        Parameters
        ----------
        targets
            The new tracks: a track table (path or DataFrame, as :func:`bazenji.io.read_targets` reads), a list
            of track names, or a number of tracks.

        Returns
        -------
        A :class:`Basenji2` whose trunk is a copy of this one's (training it leaves this model unchanged) and
        whose head computes ``len(targets)`` tracks. Train it with :func:`bazenji.tl.train`, e.g. with
        ``freeze_trunk=True`` to fit only the head.
        """
        if isinstance(targets, int | np.integer) and not isinstance(targets, bool):
            n_tracks, table = int(targets), None
        else:
            from ..io import read_targets

            table = read_targets(targets) if isinstance(targets, str | Path | pd.DataFrame) else list(targets)
            n_tracks = len(table)
        if n_tracks < 1:
            raise ValueError(f"targets={targets!r}; expected at least one track")
        new = copy.deepcopy(self)
        new.config = Basenji2Config.from_dict({**self.config.to_dict(), "n_tracks": n_tracks})
        new.head = nn.Linear(self.config.final_channels, n_tracks).to(self.head.weight)
        new._targets = None
        if table is not None:
            new.targets = table
        new.source = {**self.source, "head": f"replaced ({n_tracks} tracks)"}
        return new

    def n_parameters(self, *, trainable: bool = True) -> int:
        """Number of trainable parameters (or non-trainable buffers such as running statistics)."""
        if trainable:
            return sum(p.numel() for p in self.parameters())
        return sum(b.numel() for n, b in self.named_buffers() if "running" in n)

    def conv_layers(self) -> list[ConvBlock]:
        """Every convolution block in execution order (stem, tower, residual pairs, final)."""
        blocks = [self.stem, *self.tower]
        for unit in self.residual:
            blocks += [unit.dilated, unit.project]
        return [*blocks, self.final]

    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``config.json``, ``model.safetensors`` and (with a table) ``targets.tsv`` to ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        if (directory / "model.safetensors").exists() and not overwrite:
            raise FileExistsError(f"{directory} already holds a model; pass overwrite=True to replace it")
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"format": "bazenji", "format_version": 1, "config": self.config.to_dict()}
        (directory / "config.json").write_text(json.dumps(meta, indent=1))
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(directory / "model.safetensors"), metadata={"format": "bazenji"})
        table = directory / "targets.tsv"
        if self._targets is not None:
            self._targets.to_csv(table, sep="\t")
        elif table.exists():
            table.unlink()
        return directory

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"seq_length={c.seq_length}, bins={c.n_bins}x{c.bin_size}bp, tracks={c.n_tracks}, gelu={c.gelu!r}, "
            f"parameters={self.n_parameters():,}"
        )
