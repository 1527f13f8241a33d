"""The Basenji2 architecture as one dataclass."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GELU_FORMS = ("sigmoid", "tanh", "erf")


@dataclass(frozen=True)
class Basenji2Config:
    """Every architectural choice of a Basenji2 network.

    The defaults are the released human model (``params_human.json`` of the cross2020 manuscript);
    :meth:`human` returns them explicitly.

    Parameters
    ----------
    seq_length
        Input length in bp.
    stem_channels, stem_kernel
        Width and kernel size of the first convolution.
    tower_channels, tower_kernel
        Widths and kernel size of the pooling convolution tower (one block per width).
    pool_size
        Max-pool size after the stem and after every tower block.
    n_res_blocks, res_kernel, bottleneck
        Dilated residual units: count, kernel size of the dilated convolution, its width.
    dilation_start, dilation_rate, round_dilation
        The first dilation and its growth per unit; with ``round_dilation`` the running rate is
        rounded half to even after every step, as the official code does (1, 2, 3, 4, 6, 9, 14, ...).
    dropout
        Dropout of the residual units (training only).
    crop_bins
        Bins removed at each end before the head.
    final_channels, final_dropout
        Width and dropout of the 1x1 convolution block before the head.
    n_tracks
        Output tracks of the dense head.
    gelu
        ``"sigmoid"`` (``x * sigmoid(1.702 x)``, official code 2018-2022 and the released human weights),
        ``"tanh"`` (tanh approximation, official code since 2022) or ``"erf"`` (exact).
    bn_eps, bn_momentum
        Batch-norm epsilon and momentum in the Keras convention (weight of the old running value).
    """

    seq_length: int = 131_072
    stem_channels: int = 288
    stem_kernel: int = 15
    tower_channels: tuple[int, ...] = (339, 399, 470, 554, 652, 768)
    tower_kernel: int = 5
    pool_size: int = 2
    n_res_blocks: int = 11
    res_kernel: int = 3
    bottleneck: int = 384
    dilation_start: float = 1.0
    dilation_rate: float = 1.5
    round_dilation: bool = True
    dropout: float = 0.3
    crop_bins: int = 64
    final_channels: int = 1536
    final_dropout: float = 0.05
    n_tracks: int = 5313
    gelu: str = "sigmoid"
    bn_eps: float = 1e-3
    bn_momentum: float = 0.9
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.tower_channels, str | bytes) or not hasattr(self.tower_channels, "__iter__"):
            raise ValueError(f"Basenji2Config.tower_channels={self.tower_channels!r}; expected a sequence of widths")
        if not all(isinstance(c, int | np.integer) for c in self.tower_channels):
            raise ValueError(f"Basenji2Config.tower_channels={self.tower_channels!r}; expected integer widths")
        object.__setattr__(self, "tower_channels", tuple(int(c) for c in self.tower_channels))
        positive_ints = {
            "seq_length": self.seq_length,
            "stem_channels": self.stem_channels,
            "stem_kernel": self.stem_kernel,
            "tower_kernel": self.tower_kernel,
            "pool_size": self.pool_size,
            "res_kernel": self.res_kernel,
            "bottleneck": self.bottleneck,
            "final_channels": self.final_channels,
            "n_tracks": self.n_tracks,
        }
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"Basenji2Config.{name}={value!r}; expected a positive integer")
        if len(self.tower_channels) == 0 or any(c < 1 for c in self.tower_channels):
            raise ValueError(f"Basenji2Config.tower_channels={self.tower_channels!r}; expected positive widths")
        for name in ("n_res_blocks", "crop_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"Basenji2Config.{name}={value!r}; expected an integer >= 0")
        for name in ("stem_kernel", "tower_kernel", "res_kernel"):
            if getattr(self, name) % 2 == 0:  # "same" padding of an even kernel shifts the output by half a base
                raise ValueError(f"Basenji2Config.{name}={getattr(self, name)}; expected an odd kernel size")
        if not self.dilation_start >= 1 or not self.dilation_rate >= 1:
            raise ValueError(
                f"Basenji2Config.dilation_start={self.dilation_start!r}, dilation_rate={self.dilation_rate!r}; "
                "expected both >= 1"
            )
        if not self.bn_eps > 0 or not 0 <= self.bn_momentum < 1:
            raise ValueError(
                f"Basenji2Config.bn_eps={self.bn_eps!r}, bn_momentum={self.bn_momentum!r}; expected bn_eps > 0 "
                "and bn_momentum in [0, 1)"
            )
        if self.gelu not in GELU_FORMS:
            raise ValueError(f"Basenji2Config.gelu={self.gelu!r}; expected one of {GELU_FORMS}")
        if self.seq_length % self.bin_size:
            raise ValueError(
                f"Basenji2Config.seq_length={self.seq_length} is not divisible by the pooling factor "
                f"{self.bin_size} (pool_size={self.pool_size} ** {len(self.tower_channels) + 1} pools)"
            )
        if self.n_bins < 1:
            raise ValueError(
                f"Basenji2Config.crop_bins={self.crop_bins} removes every bin: {self.seq_length // self.bin_size} "
                f"bins before cropping, expected crop_bins < {(self.seq_length // self.bin_size + 1) // 2}"
            )
        for name in ("dropout", "final_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"Basenji2Config.{name}={getattr(self, name)!r}; expected a value in [0, 1)")

    @classmethod
    def human(cls, **changes) -> Basenji2Config:
        """The released human model: 131,072 bp in, 896 bins x 5,313 tracks out."""
        return cls(**changes)

    @property
    def bin_size(self) -> int:
        """Bp per output bin: the product of all pools."""
        return self.pool_size ** (1 + len(self.tower_channels))

    @property
    def n_bins(self) -> int:
        """Output bins after cropping."""
        return self.seq_length // self.bin_size - 2 * self.crop_bins

    @property
    def trunk_channels(self) -> int:
        """Width of the residual tower (the last tower block)."""
        return self.tower_channels[-1]

    @property
    def dilations(self) -> list[int]:
        """Dilation of each residual unit, as the official code computes them."""
        rates, rate = [], self.dilation_start
        for _ in range(self.n_res_blocks):
            rates.append(int(np.round(rate)))
            rate *= self.dilation_rate
            if self.round_dilation:
                rate = float(np.round(rate))
        return rates

    @property
    def receptive_field(self) -> int:
        """Bp of input that one output bin depends on."""
        field_bp, step = 1, 1
        field_bp += (self.stem_kernel - 1) * step
        field_bp += (self.pool_size - 1) * step
        step *= self.pool_size
        for _ in self.tower_channels:
            field_bp += (self.tower_kernel - 1) * step + (self.pool_size - 1) * step
            step *= self.pool_size
        for dilation in self.dilations:
            field_bp += (self.res_kernel - 1) * dilation * step
        return field_bp

    def to_dict(self) -> dict:
        """A JSON-ready dictionary."""
        out = dataclasses.asdict(self)
        out["tower_channels"] = list(self.tower_channels)
        if not out["extra"]:
            del out["extra"]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Basenji2Config:
        """Build from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown Basenji2Config fields {unknown}; expected a subset of {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_params(cls, params: dict | str | Path, *, head: str | None = None) -> Basenji2Config:
        """Read a calico/basenji ``params.json`` (path or dict; the ``model`` section or the whole file).

        Parameters
        ----------
        params
            The params dictionary or a path to the JSON file.
        head
            The head to use (``"head_human"`` ...); the first ``head*`` key by default.
        """
        if not isinstance(params, dict):
            params = json.loads(Path(params).read_text())
        params = params.get("model", params)
        trunk = params.get("trunk")
        if not trunk:
            raise ValueError("params has no 'trunk' list; expected a calico/basenji model params dictionary")
        kw: dict = {"seq_length": int(params["seq_length"])}
        if "bn_momentum" in params:
            kw["bn_momentum"] = float(params["bn_momentum"])
        conv_blocks = [b for b in trunk if b["name"] == "conv_block"]
        stem, final = conv_blocks[0], conv_blocks[-1]
        kw.update(stem_channels=int(stem["filters"]), stem_kernel=int(stem.get("kernel_size", 1)))
        kw["pool_size"] = int(stem.get("pool_size", 2))
        kw.update(final_channels=int(final["filters"]), final_dropout=float(final.get("dropout", 0.0)))
        for block in trunk:
            if block["name"] == "conv_tower":
                widths, width = [], float(block["filters_init"])
                for _ in range(int(block["repeat"])):
                    widths.append(int(np.round(width)))
                    width *= float(block.get("filters_mult", 1.0))
                kw.update(tower_channels=tuple(widths), tower_kernel=int(block.get("kernel_size", 1)))
            elif block["name"] == "dilated_residual":
                kw.update(
                    n_res_blocks=int(block["repeat"]),
                    bottleneck=int(block["filters"]),
                    res_kernel=int(block.get("kernel_size", 3)),
                    dilation_rate=float(block.get("rate_mult", 2)),
                    round_dilation=bool(block.get("round", False)),
                    dropout=float(block.get("dropout", 0.0)),
                )
            elif block["name"] == "Cropping1D":
                kw["crop_bins"] = int(block["cropping"])
        heads = [k for k in params if k.startswith("head")]
        head = head or (heads[0] if heads else None)
        if head is None or head not in params:
            raise ValueError(f"params head {head!r} not found; heads present: {heads}")
        head_block = params[head]
        head_block = head_block[0] if isinstance(head_block, list) else head_block
        kw["n_tracks"] = int(head_block["units"])
        return cls(**kw)
