"""Fast inference for Basenji2: channels-last convolutions with folded batch norm and fused activations."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch
import torch.nn.functional as F

# x * sigmoid(1.702 x) == silu(1.702 x) / 1.702: with the trunk kept pre-multiplied by 1.702, the sigmoid form
# is a single silu pass (one kernel instead of three) and the scale cancels in every convolution but two.
SIGMOID_SCALE = 1.702


def track_index(tracks, n_tracks: int, device: torch.device | None = None) -> torch.Tensor:
    """``tracks`` (integer positions) as an index tensor, refusing positions outside ``[0, n_tracks)``."""
    index = np.asarray(tracks)
    if index.ndim != 1 or index.size == 0 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"tracks={tracks!r}; expected a non-empty list of integer track positions")
    if index.min() < 0 or index.max() >= n_tracks:
        raise ValueError(f"tracks={tracks!r}; expected positions in [0, {n_tracks})")
    return torch.as_tensor(index.astype(np.int64), device=device)


def activation_scale(form: str) -> float:
    """How much larger than the model's own the activation inputs are kept for ``form``."""
    return SIGMOID_SCALE if form == "sigmoid" else 1.0


def scaled_gelu(x: torch.Tensor, form: str, *, inplace: bool = False) -> torch.Tensor:
    """``activation_scale(form) * gelu(x / activation_scale(form))`` in one elementwise kernel."""
    if form == "sigmoid":
        return F.silu(x, inplace=inplace)
    approximate = "tanh" if form == "tanh" else "none"
    return torch.ops.aten.gelu_(x, approximate=approximate) if inplace else F.gelu(x, approximate=approximate)


def _mkldnn_unary(form: str) -> tuple[str, str]:
    if form == "sigmoid":
        return "swish", ""
    return "gelu", "tanh" if form == "tanh" else "none"


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """View ``(batch, length, channels)`` as a channels-last ``(batch, channels, 1, length)`` conv2d input."""
    return x.unsqueeze(1).permute(0, 3, 1, 2)


def sequence_major(y: torch.Tensor) -> torch.Tensor:
    """View a channels-last ``(batch, channels, 1, length)`` tensor as ``(batch, length, channels)``."""
    return y.permute(0, 2, 3, 1).flatten(1, 2)


def gelu_of_one(form: str) -> float:
    """GELU of 1 in ``form``: the value a one-hot base takes after the stem's activation."""
    from ._basenji2 import gelu

    return float(gelu(torch.ones((), dtype=torch.float64), form))


def fold_batch_norm(block) -> tuple[torch.Tensor, torch.Tensor]:
    """Convolution weight and bias of ``block`` with its batch norm folded in, in float64."""
    with torch.no_grad():
        bn = block.bn
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        weight = block.conv.weight.double() * scale[:, None, None]
        bias = bn.bias.double() - bn.running_mean.double() * scale
    return weight, bias


class PackedConv:
    """One convolution block with batch norm folded in, weights laid out for channels-last conv2d.

    Parameters
    ----------
    block
        The :class:`~bazenji.models._basenji2.ConvBlock`.
    dtype, device
        Where and in which precision it computes.
    scale_in, scale_out
        How many times larger than the model's own the input is, and the output must be (see
        :data:`SIGMOID_SCALE`).
    split
        Store the weight as two low-precision halves along the input channels, ``[high, low]`` with
        ``high + low`` equal to the weight to about 16 bits; the input must then be given twice
        (``[x, x]``). Costs twice the multiply-adds, worth it only where they are few (the stem).
    """

    def __init__(
        self,
        block,
        dtype: torch.dtype,
        device: torch.device,
        *,
        scale_in: float = 1.0,
        scale_out: float = 1.0,
        split: bool = False,
    ) -> None:
        conv = block.conv
        weight, bias = fold_batch_norm(block)
        weight, bias = weight * (scale_out / scale_in), bias * scale_out
        if split:
            high = weight.to(dtype).double()
            weight = torch.cat([high, weight - high], dim=1)
        self.weight = weight.to(device=device, dtype=dtype).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        self.bias = bias.to(device=device, dtype=dtype)
        self.padding = [0, int(conv.padding[0])]
        self.dilation = [1, int(conv.dilation[0])]
        self.pool = int(getattr(block.pool, "kernel_size", 1))
        self.mkldnn = device.type == "cpu" and torch.backends.mkldnn.is_available() and dtype in MKLDNN_DTYPES

    def __call__(self, x: torch.Tensor, *, activation: str | None = None, add: torch.Tensor | None = None):
        """Convolve ``x`` (batch, length, channels), optionally fusing an activation or a residual add."""
        x4 = channels_last(x)
        if not x4.is_contiguous(memory_format=torch.channels_last):
            x4 = x4.contiguous(memory_format=torch.channels_last)
        if self.mkldnn and (activation is not None or add is not None):
            stride = [1, 1]
            if add is not None:
                y = torch.ops.mkldnn._convolution_pointwise.binary(
                    x4, channels_last(add), self.weight, self.bias, self.padding, stride, self.dilation, 1, "add",
                    None, None, [], None,
                )  # fmt: skip
                return sequence_major(y)
            unary, algorithm = _mkldnn_unary(activation)
            y = torch.ops.mkldnn._convolution_pointwise(
                x4, self.weight, self.bias, self.padding, stride, self.dilation, 1, unary, [], algorithm
            )
            return sequence_major(y)
        y = sequence_major(F.conv2d(x4, self.weight, self.bias, padding=self.padding, dilation=self.dilation))
        if activation is not None:
            y = scaled_gelu(y, activation)
        if add is not None:
            y = y + add
        return y


MKLDNN_DTYPES = (torch.float32, torch.bfloat16)


def max_pool(x: torch.Tensor, size: int, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """Max pool ``(batch, length, channels)`` along length; one vectorised pass over channel rows."""
    if size == 1:
        return x
    if size == 2:
        return torch.maximum(x[:, 0::2], x[:, 1::2], out=out)
    return torch.amax(x.unflatten(1, (-1, size)), 2, out=out)


class InferencePlan:
    """Basenji2's trunk and head prepared for inference in one compute dtype on one device.

    Activations stay ``(batch, length, channels)`` from the one-hot input to the head, which is the
    channels-last layout oneDNN and cuDNN convolve fastest, so no tensor is ever transposed or reordered.
    Batch norm is folded into the convolutions (in float64, then cast), the activation after each
    residual unit's dilated convolution is fused into it, the residual add into the projection, and
    bins the final crop discards are dropped as soon as no later convolution reaches them. The residual
    stream stays in the parameters' precision when the convolutions run in bfloat16 or float16.

    Parameters
    ----------
    model
        The :class:`~bazenji.models.Basenji2` (its parameters are copied, not referenced).
    dtype
        Compute dtype of the convolutions and the head.
    device
        Where the plan computes.
    traceable
        Use only operators :func:`torch.compile` can trace (no oneDNN fused calls, no reused buffers):
        for compiling the plan, which then fuses what it can by itself.
    """

    def __init__(self, model, dtype: torch.dtype, device: torch.device, *, traceable: bool = False) -> None:
        config = model.config
        self.traceable = traceable
        self.form = config.gelu
        self.dtype = dtype
        self.stream_dtype = model.head.weight.dtype
        scale = activation_scale(self.form)
        # Everything between the stem and the final block is kept `scale` times larger than in the model.
        inner = dict(scale_in=scale, scale_out=scale)
        # The stem sees gelu(x) / gelu(1), which is exactly 0 or 1 for one-hot input in any precision, and
        # its weight carries gelu(1); in low precision the weight is split in two halves, so the only rounding
        # left in the stem is that of its output (otherwise the largest single source of bfloat16 error).
        self.unit_gelu = float(gelu_of_one(self.form))
        self.split_stem = dtype.itemsize < 4
        self.stem = PackedConv(
            model.stem, dtype, device, scale_in=1.0 / self.unit_gelu, scale_out=scale, split=self.split_stem
        )
        self.tower = [PackedConv(block, dtype, device, **inner) for block in model.tower]
        self.units = [
            (PackedConv(unit.dilated, dtype, device, **inner), PackedConv(unit.project, dtype, device, **inner))
            for unit in model.residual
        ]
        self.final = PackedConv(model.final, dtype, device, scale_in=scale)
        if traceable:
            for conv in self.convolutions():
                conv.mkldnn = False
        self._local = threading.local()
        with torch.no_grad():
            self.head_weight = model.head.weight.detach().to(device=device, dtype=self.stream_dtype)
            self.head_bias = model.head.bias.detach().to(device=device, dtype=self.stream_dtype)
            self.head_weight_low = self.head_weight.to(dtype).contiguous()
        # Bins at each end that no later convolution reaches, so they can go before each dilated convolution and
        # each projection: every later dilated convolution reaches `dilation * (kernel - 1) // 2` bins out.
        reach = [unit.dilated.conv.padding[0] for unit in model.residual]
        crop = config.crop_bins
        self.crop = crop
        self.drop_before_dilated = [max(0, crop - sum(reach[i:])) for i in range(len(reach))]
        self.drop_before_project = [max(0, crop - sum(reach[i + 1 :])) for i in range(len(reach))]

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, bins, final_channels)`` in the compute dtype for one-hot ``(batch, length, 4)``."""
        reuse = not self.traceable
        h = self.stem_forward(x, reuse=reuse)
        for i, conv in enumerate(self.tower):
            a = scaled_gelu(h, self.form, inplace=True)
            if i == 0:
                h = self._conv_pool(conv, a, 1, reuse=reuse)
                continue
            y = conv(a)
            last = i == len(self.tower) - 1
            h = max_pool(y, conv.pool, out=self._buffer(i + 1, y, conv.pool) if reuse and not last else None)
        return self.residual_forward(h)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_local"]  # per-thread buffers stay with their threads
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def convolutions(self) -> list[PackedConv]:
        """Every convolution in execution order."""
        return [self.stem, *self.tower, *(conv for unit in self.units for conv in unit), self.final]

    def stem_forward(self, x: torch.Tensor, *, reuse: bool = False) -> torch.Tensor:
        """The stem's pooled output ``(batch, length / pool, channels)``, kept ``activation_scale`` times larger.

        With ``reuse`` the output is a buffer the next call on this thread overwrites.
        """
        from ._basenji2 import gelu

        h = (gelu(x.to(self.stream_dtype), self.form) / self.unit_gelu).to(self.dtype)
        if self.split_stem:
            h = torch.cat([h, h], dim=-1)
        return self._conv_pool(self.stem, h, 0, reuse=reuse)

    def _conv_pool(self, conv: PackedConv, h: torch.Tensor, slot: int, *, reuse: bool) -> torch.Tensor:
        """``max_pool(conv(h))`` window by window into one output (a per-thread buffer with ``reuse``).

        The unpooled outputs of the stem and the first tower layer are the network's largest tensors (151 and
        89 MB per human window in float32); pooling each window's right away keeps one alive, not a batch.
        """
        if self.traceable or conv.pool == 1 or len(h) == 1:
            y = conv(h)
            return max_pool(y, conv.pool, out=self._buffer(slot, y, conv.pool) if reuse else None)
        first = conv(h[:1])
        batch = first.expand(len(h), -1, -1)  # the batch's output shape, dtype and device, nothing allocated
        out = self._buffer(slot, batch, conv.pool) if reuse else batch.new_empty(self._pooled_shape(batch, conv.pool))
        max_pool(first, conv.pool, out=out[:1])
        del first
        for i in range(1, len(h)):
            max_pool(conv(h[i : i + 1]), conv.pool, out=out[i : i + 1])
        return out

    @staticmethod
    def _pooled_shape(y: torch.Tensor, pool: int) -> tuple[int, int, int]:
        return (y.shape[0], y.shape[1] // pool, y.shape[2])

    def _buffer(self, slot: int, y: torch.Tensor, pool: int) -> torch.Tensor | None:
        """A per-thread tensor for the pooled ``y``, kept between calls: large fresh tensors cost page faults.

        Two buffers serve every layer in turn (layer ``slot`` writes buffer ``slot % 2``): a pooled output is
        dead once the next convolution has read it, so holding one buffer per layer (0.7 GB at batch 4 for the
        human model in float32) would only raise the peak memory of every call after the first.
        """
        if pool == 1:
            return None
        shape = self._pooled_shape(y, pool)
        size = shape[0] * shape[1] * shape[2]
        buffers = self._local.__dict__.setdefault("buffers", {})
        flat = buffers.get(slot % 2)
        if flat is None or flat.numel() < size or flat.dtype != y.dtype or flat.device != y.device:
            flat = buffers[slot % 2] = torch.empty(size, dtype=y.dtype, device=y.device)
        return flat[:size].view(shape)

    def residual_forward(self, h: torch.Tensor) -> torch.Tensor:
        """From the tower's output (kept ``activation_scale`` times larger) to the embeddings."""
        from ._basenji2 import gelu

        form, dtype = self.form, self.dtype
        stream, cut = h.to(self.stream_dtype), 0
        fused_add = dtype == self.stream_dtype
        margins = zip(self.drop_before_dilated, self.drop_before_project, strict=True)
        for (dilated, project), (before, after) in zip(self.units, margins, strict=True):
            stream, cut = _crop(stream, before - cut), before
            d = dilated(scaled_gelu(stream, form).to(dtype), activation=form)
            stream, d, cut = _crop(stream, after - cut), _crop(d, after - cut), after
            stream = project(d, add=stream) if fused_add else stream + project(d)
        stream = _crop(stream, self.crop - cut)
        return gelu(self.final(scaled_gelu(stream, form).to(dtype)), form)

    def head(self, embedding: torch.Tensor, tracks: torch.Tensor | None = None) -> torch.Tensor:
        """Coverage ``(batch, bins, tracks)`` in the stream dtype after softplus; only ``tracks`` rows if given."""
        weight, bias, low = self.head_weight, self.head_bias, self.head_weight_low
        if tracks is not None:
            weight, bias, low = weight[tracks], bias[tracks], low[tracks]
        if self.dtype == self.stream_dtype:
            return F.softplus(F.linear(embedding, weight, bias))
        # Rounding the head's output to bfloat16 would cost as much precision as the whole trunk does: take the
        # mean embedding of each window out in full precision, so the low-precision product (and its rounding)
        # covers only the deviations from it, which are what differs between bins.
        center = embedding.to(self.stream_dtype).mean(1, keepdim=True)
        deviation = F.linear((embedding - center).to(self.dtype), low)
        return F.softplus(deviation.to(self.stream_dtype) + F.linear(center, weight, bias))


def _crop(x: torch.Tensor, bins: int) -> torch.Tensor:
    return x[:, bins : x.shape[1] - bins] if bins > 0 else x


# --- int8 ----------------------------------------------------------------------------------------------------------


class QuantizedConv:
    """A tower convolution in int8: uint8 activations with one range per channel, int8 weights per output channel.

    oneDNN takes one activation scale per tensor and is fastest with a zero activation zero point. So
    each channel ``c`` is mapped onto [0, 255] by its own step and offset, ``x / s_c + z_c`` (one
    multiply-add, vectorised along channels), and quantized with unit scale and zero point zero;
    ``s_c`` is folded into the weights before they are quantized, the bias takes the offsets back out,
    and the few outputs whose window reaches into the zero padding get back what the offsets did not
    add there. Per-channel ranges matter: they differ several-fold between channels.

    Parameters
    ----------
    packed
        The float32 :class:`PackedConv` to quantize.
    low, high
        Per-channel range of the activations it will see (from calibration).
    mean
        Per-channel mean of those activations, for the bias correction of the weights' rounding.
    """

    def __init__(self, packed: PackedConv, low: torch.Tensor, high: torch.Tensor, mean: torch.Tensor) -> None:
        low, high = low.double().clamp(max=0.0), high.double().clamp(min=1e-3)
        step = (high - low) / 255
        self.inverse_step, self.offset = (1.0 / step).float(), (-low / step).float()
        weight = packed.weight.double().squeeze(2) * step[None, :, None]  # (out, in, kernel), per unit input
        self.w_scale = (weight.abs().amax((1, 2)) / 127).clamp_min(1e-12).float()
        q_weight = torch.round(weight / self.w_scale.double()[:, None, None]).clamp(-127, 127)
        dequantized = q_weight * self.w_scale.double()[:, None, None]
        # Rounding the weights shifts each output's mean by (rounding error) x (mean input): take it back out.
        mean_input = mean.double() / step + self.offset.double()
        bias = packed.bias.double() - (dequantized - weight).sum(2) @ mean_input
        self.bias = (bias - dequantized.sum(2) @ self.offset.double()).float()
        self.padding, self.dilation, self.pool = packed.padding, packed.dilation, packed.pool
        taps = (dequantized * self.offset.double()[None, :, None]).sum(1)
        self.left, self.right = _padding_corrections(taps, self.padding[1], self.dilation[1])
        q_weight = q_weight.to(torch.int8).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        self.weight = torch.ops.onednn.qconv_prepack(
            q_weight, self.w_scale, 1.0, 0, [1, 1], self.padding, self.dilation, 1, None
        )
        self.w_zero_point = torch.zeros(len(self.w_scale), dtype=torch.int64)
        self.out_dtype = torch.bfloat16

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``(batch, length, channels)``; ``out_dtype`` (bfloat16) out."""
        shifted = channels_last(torch.addcmul(self.offset, x, self.inverse_step))
        with warnings.catch_warnings():  # quantized tensors are deprecated; this one lives for one call
            warnings.simplefilter("ignore", UserWarning)
            q = torch.quantize_per_tensor(shifted, 1.0, 0, torch.quint8)
        y = torch.ops.onednn.qconv_pointwise(
            q.view(torch.uint8), 1.0, 0, self.weight, self.w_scale, self.w_zero_point, self.bias,
            [1, 1], self.padding, self.dilation, 1, 1.0, 0, self.out_dtype, "none", [], "",
        )  # fmt: skip
        y = sequence_major(y)
        if len(self.left) and y.shape[1] >= 2 * len(self.left):
            y[:, : len(self.left)] += self.left
            y[:, y.shape[1] - len(self.right) :] += self.right
        return y


def _padding_corrections(taps: torch.Tensor, pad: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``taps`` (out, kernel) add to the ``pad`` outputs at each end from the padding they read.

    Row ``j`` of the left table is for output ``j``, row ``j`` of the right table for output
    ``length - pad + j``; a tap ``k`` of the output ``j`` bins from an end reads padding when it reaches
    further out than ``j`` bins.
    """
    kernel = taps.shape[1]
    if pad == 0:
        return taps.new_zeros(0, taps.shape[0]).float(), taps.new_zeros(0, taps.shape[0]).float()
    left = [taps[:, [k for k in range(kernel) if k * step < pad - j]].sum(1) for j in range(pad)]
    right = [taps[:, [k for k in range(kernel) if (kernel - 1 - k) * step < pad - j]].sum(1) for j in range(pad)]
    return torch.stack(left).float(), torch.stack(right[::-1]).float()


class QuantizedPlan:
    """Int8 convolution tower between a low-precision stem and residual part (CPU, oneDNN).

    The six tower convolutions hold about 80% of the multiply-adds of a window; those not in ``keep``
    run in int8 with activation ranges calibrated once, in float32, on ``calibration``. Stem, kept tower
    layers, residual units, final block and head run as in the ``dtype`` :class:`InferencePlan`. The
    first tower layers are the most sensitive to rounding (their errors pass through all the others):
    keeping two lifts per-track correlation with float32 from 0.988 to 0.991 on the benchmark model. Calibrated
    ranges are widened by ``headroom``: new sequences reach further than the calibration windows did,
    and clipping those activations costs more than the coarser steps.
    """

    def __init__(
        self,
        model,
        calibration: torch.Tensor,
        dtype: torch.dtype = torch.bfloat16,
        *,
        keep: tuple[int, ...] = (0, 1),
        headroom: float = 1.25,
    ) -> None:
        if not hasattr(torch.ops.onednn, "qconv_pointwise"):
            raise RuntimeError("the int8 path needs a PyTorch build with oneDNN int8 convolutions (x86 CPU)")
        cpu = torch.device("cpu")
        self.base = InferencePlan(model, dtype, cpu)
        reference = InferencePlan(model, torch.float32, cpu)
        ranges = []
        with torch.inference_mode():
            h = reference.stem_forward(calibration)
            for conv in reference.tower:
                a = scaled_gelu(h, reference.form)
                flat = a.reshape(-1, a.shape[-1])
                ranges.append((flat.amin(0) * headroom, flat.amax(0) * headroom, flat.double().mean(0)))
                h = max_pool(conv(a), conv.pool)
        self.tower = [
            base if i in keep else QuantizedConv(conv, *stats)
            for i, (base, conv, stats) in enumerate(zip(self.base.tower, reference.tower, ranges, strict=True))
        ]

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, bins, final_channels)`` for one-hot ``(batch, length, 4)``."""
        h = self.base.stem_forward(x)
        for conv in self.tower:
            h = max_pool(conv(scaled_gelu(h, self.base.form)), conv.pool)
        return self.base.residual_forward(h)

    def head(self, embedding: torch.Tensor, tracks: torch.Tensor | None = None) -> torch.Tensor:
        """See :meth:`InferencePlan.head`."""
        return self.base.head(embedding, tracks)


def random_calibration(config, n_windows: int = 2, seed: int = 0) -> torch.Tensor:
    """Random ACGT one-hot windows ``(n_windows, seq_length, 4)`` for calibrating when no real sequence is given."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n_windows, config.seq_length), generator=generator)
    return F.one_hot(codes, 4).to(torch.uint8)


# --- the user-facing wrapper ---------------------------------------------------------------------------------------


class OptimizedBasenji2(torch.nn.Module):
    """A Basenji2 frozen for inference in one precision (see :func:`optimize`).

    Calls behave like :meth:`Basenji2.forward <bazenji.models.Basenji2.forward>` in inference mode,
    whatever the input's dtype, and ``config``, ``targets``, ``track_names`` and ``source`` are those of
    the wrapped model. The plan is a snapshot: call :func:`optimize` again after changing the weights.
    """

    def __init__(
        self, model, plan, *, dtype: torch.dtype, quantize: str | None, compile: bool = False, calibration=None
    ) -> None:
        super().__init__()
        self.model = model
        self.plan = plan
        self.dtype = dtype
        self.quantize = quantize
        self.compiled = compile
        self.calibration = calibration
        self._run = torch.compile(self._plan_forward) if compile else self._plan_forward

    def __reduce__(self):
        # Prepacked int8 weights and compiled functions do not pickle: rebuild from the model instead.
        options = dict(dtype=self.dtype, quantize=self.quantize, calibration=self.calibration, compile=self.compiled)
        return _rebuild_optimized, (self.model, options)

    def _plan_forward(self, x: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        return self.plan.head(self.plan.trunk(x), index)

    config = property(lambda self: self.model.config)
    targets = property(lambda self: self.model.targets)
    track_names = property(lambda self: self.model.track_names)
    source = property(lambda self: {**self.model.source, "optimized": self.describe()})

    def describe(self) -> str:
        """``"int8"``, ``"bfloat16"`` or ``"float32"``, with ``" compiled"`` when compiled."""
        return (self.quantize or str(self.dtype).removeprefix("torch.")) + (" compiled" if self.compiled else "")

    def forward(self, x: torch.Tensor, *, tracks=None) -> torch.Tensor:
        """Coverage ``(batch, bins, tracks)`` in float32; see :meth:`bazenji.models.Basenji2.forward`."""
        self.model._check_input(x)
        index = None if tracks is None else track_index(tracks, self.config.n_tracks, x.device)
        with torch.inference_mode():
            return self._run(x.to(self.dtype) if self.compiled else x, index)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(batch, bins, final_channels)``."""
        self.model._check_input(x)
        with torch.inference_mode():
            return self.plan.trunk(x)

    def extra_repr(self) -> str:
        return f"precision={self.describe()!r}"


def _rebuild_optimized(model, options: dict) -> OptimizedBasenji2:
    return optimize(model, **options)


def optimize(
    model,
    *,
    dtype: torch.dtype | str = torch.float32,
    quantize: str | None = None,
    calibration=None,
    device=None,
    compile: bool = False,
) -> OptimizedBasenji2:
    """Freeze ``model`` for fast inference in one precision, optionally with an int8 convolution tower.

    ``Basenji2`` already takes its fast path by itself under :func:`torch.inference_mode` (batch norm
    folded, channels-last convolutions, fused activations, the compute dtype taken from the input), so
    for float32 and bfloat16 this only pins the precision. ``quantize="int8"`` runs the last four tower
    convolutions (a third of the multiply-adds) in int8 on x86 CPUs (oneDNN, AMX/VNNI) and the rest in
    bfloat16, at a cost in fidelity (per-track Pearson R about 0.99 against float32 on the benchmark
    model, against 0.997 for bfloat16): check it on your own data first. On the 2-core benchmark machine
    it was no faster than bfloat16 (benchmarks/RESULTS.md); it is there for CPUs whose int8 throughput
    outruns their memory bandwidth by more.

    Parameters
    ----------
    model
        A :class:`~bazenji.models.Basenji2`.
    dtype
        Compute precision of everything not quantized: ``"float32"`` or ``"bfloat16"`` (``"float16"``
        on CUDA). With ``quantize="int8"`` the default becomes bfloat16.
    quantize
        ``None`` or ``"int8"`` (CPU only).
    calibration
        One-hot windows ``(n, seq_length, 4)`` whose activation ranges fix the int8 scales; a few
        windows of the genome you will predict are best. Default: two random sequences.
    device
        Where to compute; the model's device by default.
    compile
        Compile the float32/bfloat16 plan with :func:`torch.compile` (needs a C++ compiler on CPU).
        The first call of each new batch shape compiles, which takes a minute or two on a small CPU;
        in bfloat16 it then ran 10-30% faster per window on the benchmark machine, so it pays off over
        a few thousand windows. Float32 gained nothing there.

    Returns
    -------
    A module whose ``forward(x, *, tracks=None)`` returns float32 coverage.
    """
    if isinstance(dtype, str):
        names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        if dtype not in names:
            raise ValueError(f"dtype={dtype!r}; expected one of {list(names)}")
        dtype = names[dtype]
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize={quantize!r}; expected None or 'int8'")
    model = model.eval()
    device = model.head.weight.device if device is None else torch.device(device)
    if quantize is None:
        if compile:
            plan = InferencePlan(model, dtype, device, traceable=True)
            return OptimizedBasenji2(model, plan, dtype=dtype, quantize=None, compile=True)
        return OptimizedBasenji2(model, model.inference_plan(dtype, device), dtype=dtype, quantize=None)
    if compile:
        raise ValueError("compile=True is for the float32/bfloat16 plans; the int8 path runs eagerly")
    if device.type != "cpu":
        raise ValueError(f"quantize='int8' runs on the cpu device only, not {device}")
    if dtype == torch.float32:
        dtype = torch.bfloat16
    calibration = random_calibration(model.config) if calibration is None else torch.as_tensor(calibration)
    model._check_input(calibration)
    plan = QuantizedPlan(model.cpu(), calibration, dtype)
    return OptimizedBasenji2(model, plan, dtype=dtype, quantize=quantize, calibration=calibration)
