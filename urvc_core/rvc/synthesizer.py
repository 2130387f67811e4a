"""The RVC synthesizer: content features and pitch in, a waveform out.

This is urvc's own implementation of the network the RVC community trains, the one its
voice model files hold the weights of (RVC WebUI's ``SynthesizerTrnMs256NSFsid`` and
``SynthesizerTrnMs768NSFsid``, with pitch guidance, and their ``_nono`` relatives
without). Every parameter has the name and shape it has in those files, so a community
``.pth`` loads with ``strict=True``; only the posterior encoder ``enc_q``, which
training alone uses and the exported files drop, is left out.

Inference runs three parts in turn:

1. ``enc_p``, the text encoder: the features (256-dim for v1 models, 768 for v2),
   plus a coarse pitch embedding when the model has pitch guidance, through a
   transformer with relative-position attention, to the mean and log-scale of a
   Gaussian over the latent;
2. ``flow``, four mean-only affine coupling layers, run in reverse to map a sample of
   that Gaussian into the decoder's latent space;
3. ``dec``, a HiFi-GAN generator; with pitch guidance the neural-source-filter (NSF)
   variant, which adds a sine excitation at the pitch to every upsampling stage.

Differences from the reference code, all of them about speed, memory or
reproducibility, none about what the network computes (it agrees with RVC WebUI's to
float32 rounding, given the same noise):

* weight norm is folded into plain weights when a model is loaded
  (:func:`fold_weight_norm`), so inference pays nothing for it;
* activations are time-major and convolutions run as oneDNN's channels-last kernels
  (see "layout" below), fused with their leaky ReLU or residual add where torch has
  those kernels; ``bf16`` runs the generator in bfloat16;
* batch size is one and there is no padding, so the sequence masks (all ones) are gone;
* attention is computed in blocks of query rows, so memory grows with ``T × block``
  instead of ``T²`` on long inputs;
* the speaker conditioning, constant over time, is folded into the biases of the layers
  it is added to;
* all randomness comes from one ``(inter_channels, frames)`` standard-normal tensor
  (the reference draws the sine source's noise separately, see
  :meth:`NSFHiFiGANGenerator.excitation_noise`) and the sine's starting phase is an
  argument, so a long input synthesized in overlapping chunks reproduces the unchunked
  result away from the joins (see :meth:`Synthesizer.infer`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

#: Slope of the leaky ReLUs inside the generator (the last one before ``conv_post`` uses
#: torch's default, 0.01, as the reference does).
LRELU_SLOPE = 0.1
#: The scale RVC applies to the prior's noise at inference: a slightly "colder" sample
#: than training's, which sounds cleaner.
PRIOR_NOISE_SCALE = 0.66666
#: Relative-position attention looks this many frames either side.
ATTENTION_WINDOW = 10
#: The NSF sine source: amplitude of the sine, and of the noise added in voiced and
#: unvoiced frames (the reference's ``sine_amp``, ``noise_std`` and ``sine_amp / 3``).
SINE_AMPLITUDE = 0.1
VOICED_NOISE_STD = 0.003
UNVOICED_NOISE_STD = SINE_AMPLITUDE / 3
#: The coarse pitch the text encoder embeds: 1..255 on the mel scale between these.
COARSE_PITCH_MIN_HZ = 50.0
COARSE_PITCH_MAX_HZ = 1100.0
#: Most attention scores held at once, per head: ``block_rows * frames`` stays below it.
_ATTENTION_SCORES_PER_BLOCK = 1 << 22
#: Seed of the fixed projection that turns the prior's noise into the NSF source's
#: per-sample noise (see :meth:`NSFHiFiGANGenerator.excitation_noise`).
_SOURCE_NOISE_SEED = 0x5EED

#: The layers that RVC trains with weight norm. Their weights are stored as a magnitude
#: ``g`` and a direction ``v`` (``weight_g``/``weight_v``, or torch's newer
#: ``parametrizations.weight.original0``/``original1``). The posterior encoder's layers
#: have it too, but inference files drop that encoder.
WEIGHT_NORMED_LAYER = re.compile(
    r"^(dec\.ups\.\d+"
    r"|dec\.resblocks\.\d+\.convs[12]?\.\d+"
    r"|flow\.flows\.\d+\.enc\.(in_layers\.\d+|res_skip_layers\.\d+|cond_layer))$"
)
_LEGACY_SUFFIXES = (".weight_g", ".weight_v")
_PARAMETRIZATION_SUFFIXES = (
    ".parametrizations.weight.original0",
    ".parametrizations.weight.original1",
)


# --- the configuration ---------------------------------------------------------------

#: What a voice model file's ``sr`` may say, and what it means.
SAMPLE_RATE_NAMES = {"32k": 32000, "40k": 40000, "48k": 48000}


@dataclass(frozen=True)
class SynthesizerConfig:
    """The hyperparameters a voice model file stores as its ``config`` list, in its order.

    RVC writes them in the order of ``SynthesizerTrnMs*NSFsid.__init__``'s arguments
    (``extract_small_model`` and ``savee`` in RVC WebUI, ``extract_model`` in Applio);
    :meth:`from_list` and :meth:`to_list` convert. ``spec_channels`` and
    ``segment_size`` serve training only; ``sr`` is the output sample rate.
    """

    spec_channels: int
    segment_size: int
    inter_channels: int
    hidden_channels: int
    filter_channels: int
    n_heads: int
    n_layers: int
    kernel_size: int
    p_dropout: float
    resblock: str
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    upsample_rates: tuple[int, ...]
    upsample_initial_channel: int
    upsample_kernel_sizes: tuple[int, ...]
    spk_embed_dim: int
    gin_channels: int
    sr: int

    @classmethod
    def from_list(cls, values: Sequence[Any]) -> SynthesizerConfig:
        """The config from a file's list; ValueError says which entry is wrong."""
        names = [field.name for field in fields(cls)]
        if not isinstance(values, (list, tuple)) or len(values) != len(names):
            count = len(values) if isinstance(values, (list, tuple)) else "no"
            raise ValueError(f"has {count} entries where RVC writes {len(names)}")
        converted: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            try:
                converted[name] = _convert_config_value(name, value)
            except (TypeError, ValueError):
                raise ValueError(f"has {name} = {value!r}, which RVC never writes") from None
        config = cls(**converted)
        config.check()
        return config

    def to_list(self) -> list[Any]:
        """The list a voice model file stores, with lists where this has tuples."""
        values: list[Any] = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "resblock_dilation_sizes":
                value = [list(dilations) for dilations in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif field.name == "p_dropout" and float(value).is_integer():
                value = int(value)  # RVC writes 0
            values.append(value)
        return values

    @property
    def hop_length(self) -> int:
        """Output samples per feature frame: the product of the upsampling rates."""
        return math.prod(self.upsample_rates)

    def check(self) -> None:
        """ValueError when the numbers can't make a network."""
        if self.resblock not in ("1", "2"):
            raise ValueError(f"has resblock {self.resblock!r} where RVC has '1' or '2'")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("has different numbers of upsample rates and kernel sizes")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("has different numbers of resblock kernel sizes and dilations")
        if self.inter_channels % 2 or self.hidden_channels % max(self.n_heads, 1):
            raise ValueError("has channel counts the flow or the attention heads can't split")
        positive = (
            "inter_channels",
            "hidden_channels",
            "filter_channels",
            "n_heads",
            "n_layers",
            "kernel_size",
            "upsample_initial_channel",
            "spk_embed_dim",
            "sr",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"has {name} = {getattr(self, name)}")
        if self.upsample_initial_channel // 2 ** len(self.upsample_rates) < 1:
            raise ValueError("has more upsampling stages than its initial channels allow")


def _convert_config_value(name: str, value: Any) -> Any:
    if name == "resblock":
        return str(value)
    if name == "p_dropout":
        return float(value)
    if name == "sr":
        if isinstance(value, str) and value in SAMPLE_RATE_NAMES:
            return SAMPLE_RATE_NAMES[value]
        return _whole_number(value)
    if name == "resblock_dilation_sizes":
        return tuple(tuple(_whole_number(d) for d in dilations) for dilations in value)
    if name in ("resblock_kernel_sizes", "upsample_rates", "upsample_kernel_sizes"):
        return tuple(_whole_number(v) for v in value)
    return _whole_number(value)


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


# --- layout -------------------------------------------------------------------------
#
# Activations are time-major everywhere: ``(T, C)`` matrices in the text encoder and
# the flow, and ``(1, C, 1, T)`` channels-last tensors in the generator, which are the
# same memory. Convolutions then run as oneDNN's channels-last 2-D kernels without
# reordering their inputs and outputs (1.5-3× faster than conv1d in float32, 4-10× in
# bfloat16 on AMX), kernel-size-1 convolutions are plain matrix products, and layer
# norm works on the last dimension as it is. The parameters keep their community names
# and 1-D shapes.


def _as_image(x: torch.Tensor) -> torch.Tensor:
    """A contiguous ``(T, C)`` matrix as the ``(1, C, 1, T)`` channels-last tensor it is."""
    return x.t()[None, :, None, :]


def _as_matrix(x: torch.Tensor) -> torch.Tensor:
    """A channels-last ``(1, C, 1, T)`` tensor as the ``(T, C)`` matrix it is."""
    return x[0, :, 0, :].t()


def _linear(x: torch.Tensor, conv: nn.Module, bias: torch.Tensor | None = None) -> torch.Tensor:
    """A kernel-size-1 ``nn.Conv1d`` applied to a ``(T, C)`` matrix: one matrix product."""
    layer = cast(nn.Conv1d, conv)
    weight = layer.weight[:, :, 0].t()
    bias = layer.bias if bias is None else bias
    return x @ weight if bias is None else torch.addmm(bias, x, weight)


def _time_conv(
    x: torch.Tensor,
    conv: nn.Module,
    bias: torch.Tensor | None = None,
    *,
    padding: tuple[int, int] | None = None,
) -> torch.Tensor:
    """An ``nn.Conv1d`` applied to a contiguous ``(T, C)`` matrix.

    ``padding`` (before, after) replaces the layer's own, symmetric, padding.
    """
    layer = cast(nn.Conv1d, conv)
    before = after = cast(tuple[int, ...], layer.padding)[0]
    if padding is not None:
        before, after = padding
    if before != after:
        x = F.pad(x, (0, 0, before, after))
        before = 0
    output = F.conv2d(
        _as_image(x),
        layer.weight.unsqueeze(2),
        layer.bias if bias is None else bias,
        padding=(0, before),
        dilation=(1, layer.dilation[0]),
    )
    return _as_matrix(output.contiguous(memory_format=torch.channels_last))


def channels_last_weight(weight: torch.Tensor) -> torch.Tensor:
    """The same 1-D convolution weight, laid out so ``weight.unsqueeze(2)`` is already a
    channels-last 4-D tensor (no copy per call)."""
    return weight.permute(0, 2, 1).contiguous().permute(0, 2, 1)


def _random_parameter(*shape: int, std: float | None = None) -> nn.Parameter:
    """Normal initial values (std ``1/sqrt(last dimension)`` unless given), except on the
    meta device, where shapes are all there is: arithmetic on meta tensors loads torch's
    compiler stack on first use, a second and more added to the first model a process
    reads."""
    values = torch.empty(*shape)
    if values.device.type != "meta":
        nn.init.normal_(values, std=shape[-1] ** -0.5 if std is None else std)
    return nn.Parameter(values)


def _embedding(rows: int, channels: int) -> nn.Embedding:
    """``nn.Embedding(rows, channels)``, initialised as torch does (see above)."""
    return nn.Embedding(rows, channels, _weight=_random_parameter(rows, channels, std=1.0))


# --- the text encoder -----------------------------------------------------------------


class LayerNorm(nn.Module):
    """Layer norm over the channels, named ``gamma`` and ``beta`` as the checkpoints are."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)


class RelativePositionAttention(nn.Module):
    """Multi-head self-attention with learned relative-position keys and values.

    As in VITS: the score of query ``i`` for key ``j`` gets ``q_i · emb_rel_k[j - i]``
    added, and the output gets ``Σ_j p_ij · emb_rel_v[j - i]``, both for
    ``|j - i| <= window`` only. The embeddings are shared by the heads. Scores are
    computed for blocks of query rows, so memory grows with ``T × block``, not ``T²``.
    """

    def __init__(self, channels: int, n_heads: int, window: int = ATTENTION_WINDOW) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"{channels} channels don't split into {n_heads} heads")
        self.n_heads = n_heads
        self.head_channels = channels // n_heads
        self.window = window
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        self.emb_rel_k = _random_parameter(1, 2 * window + 1, self.head_channels)
        self.emb_rel_v = _random_parameter(1, 2 * window + 1, self.head_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, C)`` to ``(T, C)``."""
        frames, channels = x.shape
        heads, head_channels, window = self.n_heads, self.head_channels, self.window
        # One product for the three projections.
        projections = (self.conv_q, self.conv_k, self.conv_v)
        weight = torch.cat([conv.weight[:, :, 0] for conv in projections])
        bias = torch.cat([cast(torch.Tensor, conv.bias) for conv in projections])
        projected = torch.addmm(bias, x, weight.t()).view(frames, 3, heads, head_channels)
        # (heads, T, head_channels) for the query (scaled once, here) and the value;
        # (heads, head_channels, T) for the key.
        query = projected[:, 0].transpose(0, 1) * head_channels**-0.5
        key = projected[:, 1].permute(1, 2, 0)
        value = projected[:, 2].transpose(0, 1)
        # Column r holds query i's logit for the key at offset r - window.
        relative_logits = query @ self.emb_rel_k[0].t()  # (heads, T, 2w+1)
        output = x.new_empty(frames, heads, head_channels)
        block_rows = max(1, min(frames, _ATTENTION_SCORES_PER_BLOCK // max(frames, 1)))
        for first in range(0, frames, block_rows):
            last = min(frames, first + block_rows)
            scores = query[:, first:last] @ key  # (heads, rows, T)
            for offset, rows in self._band_rows(first, last, frames):
                logits = relative_logits[:, first + rows.start : first + rows.stop]
                torch.diagonal(scores, offset + first, dim1=1, dim2=2).add_(
                    logits[:, :, offset + window]
                )
            probabilities = torch.softmax(scores, dim=-1)
            block = probabilities @ value  # (heads, rows, head_channels)
            # The probabilities on the 2w+1 diagonals weigh the relative values.
            band = block.new_zeros(heads, last - first, 2 * window + 1)
            for offset, rows in self._band_rows(first, last, frames):
                diagonal = torch.diagonal(probabilities, offset + first, dim1=1, dim2=2)
                band[:, rows, offset + window] = diagonal
            block += band @ self.emb_rel_v[0]
            output[first:last] = block.transpose(0, 1)
        return _linear(output.view(frames, channels), self.conv_o)

    def _band_rows(self, first: int, last: int, frames: int) -> Iterator[tuple[int, slice]]:
        """For each key offset within the window, the block rows whose key is in range.

        Block row ``r`` is query ``first + r``; its key at ``offset`` is
        ``first + r + offset``, which must lie in ``[0, frames)``: exactly the rows
        ``torch.diagonal`` walks at diagonal ``offset + first``, in that order.
        """
        for offset in range(-self.window, self.window + 1):
            start = max(0, -(first + offset))
            stop = min(last - first, frames - first - offset)
            if stop > start:
                yield offset, slice(start, stop)


class FeedForward(nn.Module):
    """Two "same"-padded convolutions with a ReLU between them."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)
        # The reference pads (k - 1) // 2 frames before and k // 2 after.
        self.padding = ((kernel_size - 1) // 2, kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu_(_time_conv(x, self.conv_1, padding=self.padding))
        return _time_conv(hidden.contiguous(), self.conv_2, padding=self.padding)


class AttentionEncoder(nn.Module):
    """Post-norm transformer layers: attention, add & norm, feed-forward, add & norm."""

    def __init__(
        self,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
    ) -> None:
        super().__init__()
        self.attn_layers = nn.ModuleList(
            RelativePositionAttention(hidden_channels, n_heads) for _ in range(n_layers)
        )
        self.norm_layers_1 = nn.ModuleList(LayerNorm(hidden_channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(
            FeedForward(hidden_channels, filter_channels, kernel_size) for _ in range(n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(LayerNorm(hidden_channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        )
        for attention, norm_1, feed_forward, norm_2 in layers:
            x = norm_1(x + attention(x))
            x = norm_2(x + feed_forward(x))
        return x


class TextEncoder(nn.Module):
    """Features (and coarse pitch) to the prior's mean and log-scale, ``enc_p``."""

    def __init__(self, embedder_dim: int, config: SynthesizerConfig, pitch_guidance: bool) -> None:
        super().__init__()
        self.hidden_channels = config.hidden_channels
        self.inter_channels = config.inter_channels
        self.emb_phone = nn.Linear(embedder_dim, config.hidden_channels)
        self.emb_pitch = _embedding(256, config.hidden_channels) if pitch_guidance else None
        self.encoder = AttentionEncoder(
            config.hidden_channels,
            config.filter_channels,
            config.n_heads,
            config.n_layers,
            config.kernel_size,
        )
        self.proj = nn.Conv1d(config.hidden_channels, 2 * config.inter_channels, 1)

    def forward(
        self, features: torch.Tensor, coarse_pitch: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(T, embedder_dim)`` features to ``(T, inter_channels)`` mean and log-scale."""
        x = self.emb_phone(features)
        if self.emb_pitch is not None:
            if coarse_pitch is None:
                raise ValueError("this synthesizer has pitch guidance and needs a pitch")
            x = x + self.emb_pitch(coarse_pitch)
        x = F.leaky_relu(x * math.sqrt(self.hidden_channels), 0.1)
        stats = _linear(self.encoder(x), self.proj)
        return stats[:, : self.inter_channels], stats[:, self.inter_channels :]


# --- the flow -------------------------------------------------------------------------


class WaveNet(nn.Module):
    """Gated dilated convolutions with a speaker-conditioned gate, ``WN`` in the reference."""

    def __init__(
        self,
        hidden_channels: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
        gin_channels: int,
    ) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.n_layers = n_layers
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        self.cond_layer = (
            nn.Conv1d(gin_channels, 2 * hidden_channels * n_layers, 1) if gin_channels else None
        )
        for index in range(n_layers):
            dilation = dilation_rate**index
            padding = (kernel_size * dilation - dilation) // 2
            self.in_layers.append(
                nn.Conv1d(
                    hidden_channels,
                    2 * hidden_channels,
                    kernel_size,
                    dilation=dilation,
                    padding=padding,
                )
            )
            # The last layer only feeds the skip output, so it has half the channels.
            out_channels = 2 * hidden_channels if index < n_layers - 1 else hidden_channels
            self.res_skip_layers.append(nn.Conv1d(hidden_channels, out_channels, 1))

    def forward(self, x: torch.Tensor, speaker: torch.Tensor | None) -> torch.Tensor:
        """``(T, hidden)`` to ``(T, hidden)``; ``speaker`` is ``(gin_channels,)``."""
        hidden = self.hidden_channels
        # The speaker term is constant over time: it goes into each layer's bias.
        conditioning = (
            _linear(speaker[None], self.cond_layer).view(self.n_layers, 2 * hidden)
            if self.cond_layer is not None and speaker is not None
            else None
        )
        output: torch.Tensor | None = None
        for index, (in_layer, res_skip_layer) in enumerate(
            zip(self.in_layers, self.res_skip_layers, strict=True)
        ):
            bias = cast(torch.Tensor, in_layer.bias)
            if conditioning is not None:
                bias = bias + conditioning[index]
            gates = _time_conv(x, in_layer, bias)
            acts = torch.tanh(gates[:, :hidden]) * torch.sigmoid(gates[:, hidden:])
            res_skip = _linear(acts, res_skip_layer)
            if index < self.n_layers - 1:
                x = x + res_skip[:, :hidden]
                skip = res_skip[:, hidden:]
            else:
                skip = res_skip
            output = skip if output is None else output + skip
        assert output is not None
        return output


class ResidualCouplingLayer(nn.Module):
    """A mean-only affine coupling layer: shifts one half of the channels by a function
    of the other half."""

    def __init__(self, channels: int, hidden_channels: int, gin_channels: int) -> None:
        super().__init__()
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden_channels, 1)
        self.enc = WaveNet(hidden_channels, 5, 1, 3, gin_channels)
        self.post = nn.Conv1d(hidden_channels, self.half_channels, 1)

    def reverse(self, x: torch.Tensor, speaker: torch.Tensor | None) -> torch.Tensor:
        x0, x1 = x[:, : self.half_channels], x[:, self.half_channels :]
        mean = _linear(self.enc(_linear(x0, self.pre), speaker), self.post)
        return torch.cat([x0, x1 - mean], dim=1)


class Flip(nn.Module):
    """Reverses the channel order between coupling layers (it has no parameters, but it
    holds its place in ``flow.flows`` so the coupling layers keep indices 0, 2, 4, 6)."""

    def reverse(self, x: torch.Tensor, speaker: torch.Tensor | None) -> torch.Tensor:
        return torch.flip(x, [1])


class ResidualCouplingBlock(nn.Module):
    """The flow between the prior and the decoder's latent, ``flow``."""

    def __init__(self, config: SynthesizerConfig, n_flows: int = 4) -> None:
        super().__init__()
        self.flows = nn.ModuleList()
        for _ in range(n_flows):
            self.flows.append(
                ResidualCouplingLayer(
                    config.inter_channels, config.hidden_channels, config.gin_channels
                )
            )
            self.flows.append(Flip())

    def reverse(self, x: torch.Tensor, speaker: torch.Tensor | None) -> torch.Tensor:
        """``(T, inter_channels)`` from the prior to the decoder's latent."""
        for flow in reversed(self.flows):
            x = cast(ResidualCouplingLayer | Flip, flow).reverse(x, speaker)
        return x


# --- the generator --------------------------------------------------------------------
#
# The generator holds nearly all of the arithmetic: at 40 kHz its last stages run 64
# and 32 channels at 200 000 and 400 000 samples for every 10 s of audio.


def _same_padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size * dilation - dilation) // 2


#: Elements (channels × samples) of the tiles a generator stage's residual blocks are
#: computed in: 1 MiB of float32 per activation. Measured on a full-size 40 kHz model,
#: smaller tiles lose more to per-call overhead than they gain in cache hits, while
#: untiled stages take 2.5× the peak memory (oneDNN's scratch buffers grow with the
#: length) for no gain in speed.
TILE_ELEMENTS = 1 << 18

#: Whether the generator may use oneDNN's fused convolutions on the CPU (the kernels
#: torch.compile emits there): a convolution with its leaky ReLU, or with the residual
#: added, in one pass over memory instead of two or three. In bfloat16, where the
#: convolutions themselves are fast, that saves about a tenth of the generator's time
#: (nothing in float32). They are private torch operators, so they are used only after
#: a check that they exist and agree with the separate operations; set this to False
#: to never use them.
FUSED_CONVOLUTIONS = True


def _conv(
    x: torch.Tensor,
    conv: nn.Module,
    *,
    bias: torch.Tensor | None = None,
    leaky_relu: bool = False,
    residual: torch.Tensor | None = None,
) -> torch.Tensor:
    """``conv`` (an ``nn.Conv1d``) on a channels-last ``(1, C, 1, T)`` activation, then
    optionally a leaky ReLU or ``+ residual``; ``bias`` replaces the layer's."""
    layer = cast(nn.Conv1d, conv)
    weight = layer.weight.unsqueeze(2)
    bias = layer.bias if bias is None else bias
    padding = (0, cast(tuple[int, ...], layer.padding)[0])
    stride, dilation = (1, layer.stride[0]), (1, layer.dilation[0])
    if (leaky_relu or residual is not None) and _fused_convolutions_work(x.device, x.dtype):
        mkldnn = torch.ops.mkldnn
        if residual is not None:
            return cast(
                torch.Tensor,
                mkldnn._convolution_pointwise.binary(
                    x, residual, weight, bias, padding, stride, dilation, 1,
                    "add", None, None, [], None,
                ),
            )  # fmt: skip
        return cast(
            torch.Tensor,
            mkldnn._convolution_pointwise(
                x, weight, bias, padding, stride, dilation, 1,
                "leaky_relu", [LRELU_SLOPE], "",
            ),
        )  # fmt: skip
    output = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    if leaky_relu:
        F.leaky_relu(output, LRELU_SLOPE, inplace=True)
    if residual is not None:
        output += residual
    return output


def _fused_convolutions_work(device: torch.device, dtype: torch.dtype) -> bool:
    return FUSED_CONVOLUTIONS and device.type == "cpu" and _fused_convolutions_agree(dtype)


@functools.cache
def _fused_convolutions_agree(dtype: torch.dtype) -> bool:
    """Whether this torch has oneDNN's fused convolutions for ``dtype`` and they compute
    what the separate operations compute (checked once, on a small input)."""
    generator = torch.Generator().manual_seed(0)
    channels_last = torch.channels_last
    x = torch.randn(1, 8, 1, 64, generator=generator).to(dtype)
    x = x.contiguous(memory_format=channels_last)
    residual = torch.randn(1, 8, 1, 64, generator=generator).to(dtype)
    residual = residual.contiguous(memory_format=channels_last)
    weight = torch.randn(8, 8, 1, 3, generator=generator).to(dtype) / 4
    weight = weight.contiguous(memory_format=channels_last)
    bias = torch.randn(8, generator=generator).to(dtype)
    arguments = ([0, 2], [1, 1], [1, 2], 1)
    try:
        with torch.inference_mode():
            mkldnn = torch.ops.mkldnn
            fused_relu = mkldnn._convolution_pointwise(
                x, weight, bias, *arguments, "leaky_relu", [LRELU_SLOPE], ""
            )
            fused_add = mkldnn._convolution_pointwise.binary(
                x, residual, weight, bias, *arguments, "add", None, None, [], None
            )
            plain = F.conv2d(x, weight, bias, padding=(0, 2), dilation=(1, 2)).float()
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    tolerance = 1e-4 if dtype == torch.float32 else 3e-2
    scale = float(plain.abs().max()) + 1e-6
    relu_error = float((fused_relu.float() - F.leaky_relu(plain, LRELU_SLOPE)).abs().max())
    add_error = float((fused_add.float() - (plain + residual.float())).abs().max())
    return max(relu_error, add_error) <= tolerance * scale


class ResBlock1(nn.Module):
    """HiFi-GAN's residual block "1": dilated convolution, then an undilated one, thrice."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(
                channels,
                channels,
                kernel_size,
                dilation=dilation,
                padding=_same_padding(kernel_size, dilation),
            )
            for dilation in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_same_padding(kernel_size, 1))
            for _ in dilations
        )

    def forward(self, x: torch.Tensor, activated: torch.Tensor | None = None) -> torch.Tensor:
        """``activated``, if given, is ``leaky_relu(x)``, which a stage's blocks share."""
        for conv_1, conv_2 in zip(self.convs1, self.convs2, strict=True):
            if activated is None:
                activated = F.leaky_relu(x, LRELU_SLOPE)
            hidden = _conv(activated, conv_1, leaky_relu=True)
            x, activated = _conv(hidden, conv_2, residual=x), None
        return x


class ResBlock2(nn.Module):
    """HiFi-GAN's lighter residual block "2": one dilated convolution per dilation."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(
                channels,
                channels,
                kernel_size,
                dilation=dilation,
                padding=_same_padding(kernel_size, dilation),
            )
            for dilation in dilations
        )

    def forward(self, x: torch.Tensor, activated: torch.Tensor | None = None) -> torch.Tensor:
        """``activated``, if given, is ``leaky_relu(x)``, which a stage's blocks share."""
        for conv in self.convs:
            if activated is None:
                activated = F.leaky_relu(x, LRELU_SLOPE)
            x, activated = _conv(activated, conv, residual=x), None
        return x


def _upsampling_padding(rate: int, kernel_size: int) -> tuple[int, int]:
    """Padding and output padding that make a transposed convolution exactly ``rate``×.

    RVC's ``(k - u) // 2`` for even rates (all of its configurations); Applio's rule for
    odd ones, which changes no weight shape.
    """
    if rate % 2 == 0:
        return (kernel_size - rate) // 2, 0
    return rate // 2 + rate % 2, rate % 2


def _noise_conv_shape(stride: int) -> tuple[int, int]:
    """Kernel size and padding of the conv that brings the source down to a stage's rate.

    For the even strides of every RVC configuration this is RVC's ``2s`` kernel and
    ``s // 2`` padding; Applio's ``2s - 1`` kernel keeps odd strides exact.
    """
    if stride == 1:
        return 1, 0
    kernel_size = stride * 2 - stride % 2
    return kernel_size, (kernel_size - stride) // 2


class HiFiGANGenerator(nn.Module):
    """The decoder of models without pitch guidance, ``dec`` (RVC's ``Generator``)."""

    def __init__(self, config: SynthesizerConfig) -> None:
        super().__init__()
        self.num_kernels = len(config.resblock_kernel_sizes)
        initial = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.inter_channels, initial, 7, 1, padding=3)
        self.ups = nn.ModuleList()
        for index, (rate, kernel_size) in enumerate(
            zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
        ):
            padding, output_padding = _upsampling_padding(rate, kernel_size)
            self.ups.append(
                nn.ConvTranspose1d(
                    initial // 2**index,
                    initial // 2 ** (index + 1),
                    kernel_size,
                    rate,
                    padding=padding,
                    output_padding=output_padding,
                )
            )
        block_class = ResBlock1 if config.resblock == "1" else ResBlock2
        self.resblocks = nn.ModuleList(
            block_class(initial // 2 ** (index + 1), kernel_size, tuple(dilations))
            for index in range(len(self.ups))
            for kernel_size, dilations in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            )
        )
        self.conv_post = nn.Conv1d(initial // 2 ** len(self.ups), 1, 7, 1, padding=3, bias=False)
        self.cond = nn.Conv1d(config.gin_channels, initial, 1) if config.gin_channels else None
        # How far a residual block sees either side: every conv in its chain adds its
        # own reach, (k - 1) · dilation / 2.
        chains = [
            [(k, d) for d in dilations]
            + ([(k, 1)] * len(dilations) if block_class is ResBlock1 else [])
            for k, dilations in zip(
                config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True
            )
        ]
        self.halo = max(sum(math.ceil((k - 1) * d / 2) for k, d in chain) for chain in chains)

    def forward(
        self,
        z: torch.Tensor,
        speaker: torch.Tensor | None,
        excitation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(T, inter_channels)`` latent to ``(T * hop,)`` samples in [-1, 1], in the
        generator's dtype. ``speaker`` is ``(gin_channels,)``; ``excitation`` the NSF
        generator's harmonic source, ``(T * hop,)`` float32."""
        dtype = self.conv_pre.weight.dtype
        bias = cast(torch.Tensor, self.conv_pre.bias)
        if self.cond is not None and speaker is not None:
            # The speaker term is constant over time: it joins conv_pre's bias.
            bias = bias + _linear(speaker[None].to(dtype), self.cond)[0]
        x = _conv(_as_image(z.to(dtype).contiguous()), self.conv_pre, bias=bias)
        for index in range(len(self.ups)):
            x = self._upsample(index, F.leaky_relu(x, LRELU_SLOPE, inplace=True), excitation)
            x = self._residual_blocks(index, x)
        # The reference's last leaky ReLU has torch's default slope, 0.01.
        x = _conv(F.leaky_relu(x, inplace=True), self.conv_post)
        return torch.tanh(x).reshape(-1)

    def _residual_blocks(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """The mean of stage ``index``'s residual blocks, a tile of samples at a time.

        Each tile is computed with ``halo`` samples of real context either side (the
        blocks' receptive field), so the result is exactly the untiled one, while the
        intermediate tensors stay small enough for the CPU's caches and oneDNN's
        scratch buffers stay small: long stages otherwise take gigabytes and run slower.
        """
        blocks = self.resblocks[index * self.num_kernels : (index + 1) * self.num_kernels]
        samples = x.shape[3]
        tile = max(TILE_ELEMENTS // x.shape[1], 4 * self.halo)
        if samples <= tile + 2 * self.halo:
            return self._mean_of_blocks(blocks, x)
        output = torch.empty_like(x)
        for start in range(0, samples, tile):
            stop = min(samples, start + tile)
            first, last = max(0, start - self.halo), min(samples, stop + self.halo)
            mean = self._mean_of_blocks(blocks, x[:, :, :, first:last])
            output[:, :, :, start:stop] = mean[:, :, :, start - first : stop - first]
        return output

    def _mean_of_blocks(self, blocks: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        activated = F.leaky_relu(x, LRELU_SLOPE)  # the first thing every block does
        summed = blocks[0](x, activated)
        for block in blocks[1:]:
            summed += block(x, activated)
        return summed.mul_(1.0 / self.num_kernels)

    def _upsample(
        self, index: int, x: torch.Tensor, excitation: torch.Tensor | None
    ) -> torch.Tensor:
        upsample = cast(nn.ConvTranspose1d, self.ups[index])
        return self._transposed_conv(upsample, x, upsample.bias)

    @staticmethod
    def _transposed_conv(
        upsample: nn.ConvTranspose1d, x: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        output = F.conv_transpose2d(
            x,
            upsample.weight.unsqueeze(2),
            bias,
            stride=(1, upsample.stride[0]),
            padding=(0, cast(tuple[int, ...], upsample.padding)[0]),
            output_padding=(0, upsample.output_padding[0]),
        )
        return output.contiguous(memory_format=torch.channels_last)


class NSFHiFiGANGenerator(HiFiGANGenerator):
    """The decoder of models with pitch guidance, ``dec`` (RVC's ``GeneratorNSF``).

    A sine at the pitch (plus a little noise), shaped by ``m_source.l_linear`` and a
    tanh, is brought to each upsampling stage's rate by ``noise_convs`` and added there.
    """

    def __init__(self, config: SynthesizerConfig) -> None:
        super().__init__(config)
        self.sample_rate = config.sr
        self.hop_length = config.hop_length
        self.m_source = SourceModule()
        self.noise_convs = nn.ModuleList()
        rates = config.upsample_rates
        for index in range(len(rates)):
            stride = math.prod(rates[index + 1 :])
            kernel_size, padding = _noise_conv_shape(stride)
            channels = config.upsample_initial_channel // 2 ** (index + 1)
            self.noise_convs.append(
                nn.Conv1d(1, channels, kernel_size, stride=stride, padding=padding)
            )
        self._noise_projection: torch.Tensor | None = None

    def _upsample(
        self, index: int, x: torch.Tensor, excitation: torch.Tensor | None
    ) -> torch.Tensor:
        upsample = cast(nn.ConvTranspose1d, self.ups[index])
        noise_conv = cast(nn.Conv1d, self.noise_convs[index])
        # The source conv's bias joins the upsampling's; its product is added in place.
        bias = cast(torch.Tensor, upsample.bias) + cast(torch.Tensor, noise_conv.bias)
        x = self._transposed_conv(upsample, x, bias)
        if excitation is not None:
            self._add_source(x, noise_conv, excitation)
        return x

    @staticmethod
    def _add_source(x: torch.Tensor, noise_conv: nn.Conv1d, excitation: torch.Tensor) -> None:
        """``x += noise_conv(excitation)`` without its bias, in place.

        The conv has one input channel, so it is a matrix product of the source's
        strided frames with the ``(channels, kernel)`` weight; ``x``, channels-last, is
        already the ``(samples, channels)`` matrix that product lands in.
        """
        channels, samples = x.shape[1], x.shape[3]
        kernel_size, stride = noise_conv.kernel_size[0], noise_conv.stride[0]
        padding = cast(tuple[int, ...], noise_conv.padding)[0]
        source = F.pad(excitation, (padding, padding)) if padding else excitation
        frames = source.unfold(0, kernel_size, stride)
        if frames.shape[0] != samples:
            raise ValueError(f"source has {frames.shape[0]} frames for {samples} samples")
        x_matrix = x.permute(0, 2, 3, 1).view(samples, channels)
        weight = noise_conv.weight.view(channels, kernel_size)
        x_matrix.addmm_(frames.to(x.dtype), weight.t().to(x.dtype))

    def excitation(
        self, pitch_hz: torch.Tensor, noise: torch.Tensor, start_phase: float
    ) -> torch.Tensor:
        """The harmonic source for ``pitch_hz`` (``(T,)``), as ``(T * hop,)`` float32."""
        voiced_sine = sine_source(pitch_hz, self.sample_rate, self.hop_length, start_phase)
        voiced = (pitch_hz > 0).to(torch.float32)[:, None]
        noise_std = voiced * VOICED_NOISE_STD + (1 - voiced) * UNVOICED_NOISE_STD
        source = voiced_sine.view(-1, self.hop_length)
        source = source + noise_std * self.excitation_noise(noise)
        return self.m_source(source.view(-1))

    def excitation_noise(self, noise: torch.Tensor) -> torch.Tensor:
        """Per-sample standard-normal noise for the source, ``(T, hop)``, made from the
        prior's ``(inter_channels, T)`` noise.

        The reference draws this noise afresh on every call. Making it a fixed linear
        function of each frame's own column of ``noise`` keeps all of a synthesis's
        randomness in that one tensor, so a caller that slices it for chunks gets the
        same source noise as an unchunked run. A fixed Gaussian projection scaled by
        ``1/sqrt(inter_channels)`` gives each sample unit variance; the hop's samples
        are only weakly correlated, which at these amplitudes (0.003 voiced, 0.033
        unvoiced, before the network) nobody hears.
        """
        channels = noise.shape[0]
        projection = self._noise_projection
        if projection is None or projection.shape[1] != channels:
            generator = torch.Generator().manual_seed(_SOURCE_NOISE_SEED)
            projection = torch.randn(self.hop_length, channels, generator=generator)
            projection /= math.sqrt(channels)
            self._noise_projection = projection
        projection = projection.to(noise.device)
        return (noise.to(torch.float32).transpose(0, 1) @ projection.transpose(0, 1)).contiguous()


class SourceModule(nn.Module):
    """``m_source``: shapes the sine source into the excitation, ``tanh(w · s + b)``.

    The reference's ``l_linear`` merges the sine's harmonics; RVC generates only the
    fundamental, so it is a scalar affine map, done here element-wise.
    """

    def __init__(self) -> None:
        super().__init__()
        self.l_linear = nn.Linear(1, 1)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        weight = self.l_linear.weight.to(source.dtype).view(())
        bias = self.l_linear.bias.to(source.dtype).view(())
        return torch.tanh(source * weight + bias)


def frame_start_phases(
    pitch_hz: torch.Tensor, sample_rate: int, hop_length: int, start_phase: float = 0.0
) -> torch.Tensor:
    """The sine source's phase, in cycles within [0, 1), at the start of each frame.

    ``(T + 1,)`` float64: entry ``t`` is where frame ``t`` starts, entry ``T`` where the
    next call would. The running sum is float64 because over an hour of frames it
    reaches millions of cycles, where float32 could no longer tell a phase from the
    next quarter cycle; reduced modulo 1 after each frame it would drift instead.
    """
    cycles_per_frame = pitch_hz.to(torch.float64).clamp_min(0.0) * (hop_length / sample_rate)
    phases = torch.empty(len(pitch_hz) + 1, dtype=torch.float64, device=pitch_hz.device)
    phases[0] = start_phase
    torch.cumsum(cycles_per_frame, 0, out=phases[1:])
    phases[1:] += start_phase
    return torch.remainder(phases, 1.0)


def sine_source(
    pitch_hz: torch.Tensor, sample_rate: int, hop_length: int, start_phase: float = 0.0
) -> torch.Tensor:
    """``SINE_AMPLITUDE · sin(2π φ)`` at every output sample, zero where unvoiced.

    Pitch is held over each frame, and the phase after sample ``n`` is the sum of
    ``f0 / sample_rate`` over samples ``0..n``, as RVC's ``SineGen`` has it (its
    fundamental starts at phase 0; ``start_phase`` lets a chunk continue where the
    previous one ended). Returns ``(T * hop,)`` float32.
    """
    pitch = pitch_hz.to(torch.float32).clamp_min(0.0)
    # float64 on the CPU: some GPUs (Apple's) have none, and it is one value a frame.
    starts = frame_start_phases(pitch_hz.cpu(), sample_rate, hop_length, start_phase)[:-1]
    starts = starts.to(device=pitch.device, dtype=torch.float32)
    # Within a frame the phase stays below 1 + f0·hop/sr (12 cycles at 1100 Hz and
    # 48 kHz), where float32 is exact to 1e-6 cycles.
    steps = torch.arange(1, hop_length + 1, dtype=torch.float32, device=pitch.device)
    phase = starts[:, None] + (pitch / sample_rate)[:, None] * steps
    sine = torch.sin(phase.mul_(2 * math.pi)).mul_(SINE_AMPLITUDE)
    sine *= (pitch > 0).to(torch.float32)[:, None]
    return sine.view(-1)


# --- the whole network ----------------------------------------------------------------


class Synthesizer(nn.Module):
    """The RVC inference network for one configuration.

    ``embedder_dim`` is 256 for v1 models and 768 for v2; ``pitch_guidance`` picks the
    NSF generator and the pitch embedding. The four combinations are RVC's
    ``SynthesizerTrnMs{256,768}NSFsid`` and ``SynthesizerTrnMs{256,768}NSFsid_nono``.
    """

    def __init__(
        self, config: SynthesizerConfig, *, embedder_dim: int, pitch_guidance: bool
    ) -> None:
        super().__init__()
        self.config = config
        self.embedder_dim = embedder_dim
        self.pitch_guidance = pitch_guidance
        self.enc_p = TextEncoder(embedder_dim, config, pitch_guidance)
        self.dec: HiFiGANGenerator = (
            NSFHiFiGANGenerator(config) if pitch_guidance else HiFiGANGenerator(config)
        )
        self.flow = ResidualCouplingBlock(config)
        self.emb_g = _embedding(config.spk_embed_dim, config.gin_channels)

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    def infer(
        self,
        features: torch.Tensor,
        pitch_hz: torch.Tensor | None,
        *,
        speaker_id: int,
        noise: torch.Tensor,
        start_phase: float = 0.0,
    ) -> torch.Tensor:
        """Audio for one utterance, ``(T * hop,)``, in the generator's dtype.

        ``features`` ``(T, embedder_dim)``; ``pitch_hz`` ``(T,)`` Hz, 0 where unvoiced
        (models with pitch guidance only); ``noise`` ``(inter_channels, T)`` standard
        normal, the only randomness used; ``start_phase`` the sine source's phase at the
        first frame, in cycles. Batch size is one.
        """
        parameter = self.emb_g.weight
        features = features.to(device=parameter.device, dtype=parameter.dtype)
        coarse = None
        if self.pitch_guidance:
            if pitch_hz is None:
                raise ValueError("this synthesizer has pitch guidance and needs a pitch")
            pitch_hz = pitch_hz.to(device=parameter.device, dtype=torch.float32)
            coarse = coarse_pitch(pitch_hz.cpu()).to(parameter.device)
        speaker = self.emb_g.weight[speaker_id] if self.config.gin_channels else None
        mean, log_scale = self.enc_p(features, coarse)
        noise = noise.to(device=parameter.device)
        # z_p = m_p + exp(logs_p) · ε · 0.66666, time-major.
        prior_sample = torch.exp(log_scale).mul_(noise.t()).mul_(PRIOR_NOISE_SCALE).add_(mean)
        z = self.flow.reverse(prior_sample, speaker)
        excitation = None
        if isinstance(self.dec, NSFHiFiGANGenerator):
            assert pitch_hz is not None
            excitation = self.dec.excitation(pitch_hz, noise, start_phase)
        return cast(torch.Tensor, self.dec(z, speaker, excitation))

    def use_channels_last_weights(self) -> None:
        """Lay the convolution weights out for the channels-last kernels (a one-off copy
        at load time). The values, names and shapes stay; layers under a weight-norm
        parametrization are left alone (they compute their weight on every call)."""
        for module in self.modules():
            weight = getattr(module, "weight", None)
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)) and isinstance(
                weight, nn.Parameter
            ):
                weight.data = channels_last_weight(weight.data)

    def set_generator_dtype(self, dtype: torch.dtype) -> None:
        """Run the generator, which holds nearly all of the arithmetic, in ``dtype``
        (bfloat16 or float16); the text encoder, the flow and the sine source, cheap and
        more sensitive, stay float32."""
        self.dec.to(dtype)
        if isinstance(self.dec, NSFHiFiGANGenerator):
            self.dec.m_source.float()


def coarse_pitch(pitch_hz: torch.Tensor) -> torch.Tensor:
    """RVC's 1..255 pitch bins (mel scale, 50 to 1100 Hz) that ``emb_pitch`` embeds.

    1 is unvoiced and everything at or below 50 Hz; computed in float64 like the
    reference's numpy, so values on a bin's edge round the same way.
    """
    mel_min = 1127 * math.log(1 + COARSE_PITCH_MIN_HZ / 700)
    mel_max = 1127 * math.log(1 + COARSE_PITCH_MAX_HZ / 700)
    mel = 1127 * torch.log1p(pitch_hz.to(torch.float64).clamp_min(0.0) / 700)
    scaled = torch.where(mel > 0, (mel - mel_min) * 254 / (mel_max - mel_min) + 1, mel)
    return torch.round(scaled.clamp(1, 255)).to(torch.long)


# --- weight norm ----------------------------------------------------------------------


def weight_norm_parts(name: str) -> tuple[str, str] | None:
    """``(layer name, "g" | "v")`` for a weight-norm parameter name, in either style."""
    for suffixes in (_LEGACY_SUFFIXES, _PARAMETRIZATION_SUFFIXES):
        for part, suffix in zip("gv", suffixes, strict=True):
            if name.endswith(suffix):
                return name[: -len(suffix)], part
    return None


def weight_from_norm(magnitude: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """``g · v / ||v||``, the norm taken over all dimensions but the first.

    That is torch's ``weight_norm(dim=0)``, which RVC uses everywhere; for a
    ``ConvTranspose1d`` dimension 0 is the *input* channels, so ``g`` is
    ``(in_channels, 1, 1)`` there. Computed in float32 whatever the stored dtype.
    """
    direction = direction.to(torch.float32)
    dims = tuple(range(1, direction.dim()))
    norm = torch.linalg.vector_norm(direction, dim=dims, keepdim=True)
    return direction * (magnitude.to(torch.float32) / norm)


def fold_weight_norm(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights with every ``g``/``v`` pair (either naming) replaced by plain ``weight``.

    Raises ValueError naming a layer that has only one of the two.
    """
    folded: dict[str, torch.Tensor] = {}
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in weights.items():
        parts = weight_norm_parts(name)
        if parts is None:
            folded[name] = tensor
        else:
            pairs.setdefault(parts[0], {})[parts[1]] = tensor
    for layer, pair in pairs.items():
        _check_pair(layer, pair)
        folded[f"{layer}.weight"] = weight_from_norm(pair["g"], pair["v"])
    return folded


def folded_weight_shapes(weights: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """The names and shapes :func:`fold_weight_norm` would give, without computing it.

    Raises ValueError, as folding would, naming a layer that has only one of ``g``/``v``.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    parts_seen: dict[str, set[str]] = {}
    for name, tensor in weights.items():
        parts = weight_norm_parts(name)
        if parts is None:
            shapes[name] = tuple(tensor.shape)
            continue
        parts_seen.setdefault(parts[0], set()).add(parts[1])
        if parts[1] == "v":
            shapes[f"{parts[0]}.weight"] = tuple(tensor.shape)
    for layer, seen in parts_seen.items():
        _check_pair(layer, seen)
    return shapes


def _check_pair(layer: str, parts: set[str] | dict[str, Any]) -> None:
    if set(parts) != {"g", "v"}:
        missing = "magnitude (g)" if "g" not in parts else "direction (v)"
        raise ValueError(f"{layer} has weight norm without its {missing}")


def unfold_weight_norm(
    weights: Mapping[str, torch.Tensor], *, style: str = "legacy"
) -> dict[str, torch.Tensor]:
    """The weights with every weight-normed layer's weight split into ``g`` and ``v``.

    ``style`` "legacy" names them ``weight_g``/``weight_v`` (what RVC and Applio write),
    "parametrizations" ``parametrizations.weight.original0``/``original1`` (torch's
    newer ``weight_norm``). Layers already split are renamed to the style; the others
    get ``v = weight`` and ``g = ||weight||``, which reproduce the weight exactly.
    """
    if style not in ("legacy", "parametrizations"):
        raise ValueError(f"weight norm style must be 'legacy' or 'parametrizations', not {style!r}")
    suffixes = _LEGACY_SUFFIXES if style == "legacy" else _PARAMETRIZATION_SUFFIXES
    unfolded: dict[str, torch.Tensor] = {}
    for name, tensor in weights.items():
        parts = weight_norm_parts(name)
        if parts is not None:
            layer, part = parts
            unfolded[layer + suffixes["gv".index(part)]] = tensor
        elif name.endswith(".weight") and WEIGHT_NORMED_LAYER.match(name[: -len(".weight")]):
            layer = name[: -len(".weight")]
            dims = tuple(range(1, tensor.dim()))
            magnitude = torch.linalg.vector_norm(tensor.to(torch.float32), dim=dims, keepdim=True)
            unfolded[layer + suffixes[0]] = magnitude.to(tensor.dtype)
            unfolded[layer + suffixes[1]] = tensor
        else:
            unfolded[name] = tensor
    return unfolded


def apply_weight_norm(network: nn.Module) -> nn.Module:
    """Put torch's own weight norm (``parametrizations.weight_norm``) on the layers RVC
    trains with it, as a training-time network has it. Returns ``network``."""
    for name, module in list(network.named_modules()):
        if WEIGHT_NORMED_LAYER.match(name):
            nn.utils.parametrizations.weight_norm(module)
    return network


def parameter_shapes(
    config: SynthesizerConfig, *, embedder_dim: int, pitch_guidance: bool
) -> dict[str, tuple[int, ...]]:
    """Name to shape of every weight of a network, weight norm folded, in state-dict
    order. Built on the meta device: no memory is allocated and nothing is initialised."""
    return dict(_parameter_shapes(config, embedder_dim, pitch_guidance))


@functools.lru_cache(maxsize=32)
def _parameter_shapes(
    config: SynthesizerConfig, embedder_dim: int, pitch_guidance: bool
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    with torch.device("meta"):
        network = Synthesizer(config, embedder_dim=embedder_dim, pitch_guidance=pitch_guidance)
    return tuple((name, tuple(tensor.shape)) for name, tensor in network.state_dict().items())
