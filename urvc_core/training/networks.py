"""The networks RVC trains: the synthesizer with its posterior encoder, and the
multi-period discriminator; the mel spectrogram and the losses they are trained with.

The generator's parameters *are* the inference network's: :class:`TrainingSynthesizer`
subclasses :class:`~urvc_core.rvc.synthesizer.Synthesizer`, so every weight has the
name, shape and module it has there and in community files, and adds the posterior
encoder ``enc_q`` that training alone uses. What differs is the arithmetic: inference
runs one utterance at a time, time-major, with folded weights and in-place kernels that
autograd cannot see through; training runs batches of padded clips, channel-major, with
masks, as RVC WebUI's ``SynthesizerTrnMs*NSFsid.forward`` does. The functions below do
that on the same modules, so what training learns is what inference computes (a test
checks the two agree on the same weights).

The discriminator is RVC's ``MultiPeriodDiscriminator`` (v1: periods 2, 3, 5, 7, 11,
17) and ``MultiPeriodDiscriminatorV2`` (v2: also 23 and 37), each with the scale
discriminator first, parameter names as in RVC's ``D_*.pth`` files.
"""

from __future__ import annotations

import functools
import math
import re
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from urvc_core.rvc.synthesizer import (
    LRELU_SLOPE,
    SINE_AMPLITUDE,
    UNVOICED_NOISE_STD,
    VOICED_NOISE_STD,
    WEIGHT_NORMED_LAYER,
    AttentionEncoder,
    FeedForward,
    Flip,
    HiFiGANGenerator,
    NSFHiFiGANGenerator,
    RelativePositionAttention,
    ResBlock1,
    ResidualCouplingLayer,
    Synthesizer,
    SynthesizerConfig,
    TextEncoder,
    WaveNet,
)

__all__ = [
    "DISCRIMINATOR_PERIODS",
    "MelSpectrogram",
    "MultiPeriodDiscriminator",
    "PosteriorEncoder",
    "TrainingSynthesizer",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_loss",
    "kl_loss",
    "mel_filterbank",
    "sequence_mask",
]

#: The periods of the discriminators after the scale one, per model version.
DISCRIMINATOR_PERIODS = {"v1": (2, 3, 5, 7, 11, 17), "v2": (2, 3, 5, 7, 11, 17, 23, 37)}
#: Masked attention scores, as the reference fills them (not -inf: a fully masked row of
#: padding then stays finite).
_MASKED_SCORE = -1e4


def sequence_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """``(B, 1, frames)`` float mask, 1 where ``t < length``."""
    steps = torch.arange(frames, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).unsqueeze(1).to(torch.float32)


# --- the generator's training path ----------------------------------------------------


class PosteriorEncoder(nn.Module):
    """``enc_q``: a linear spectrogram to the latent ``z`` the decoder learns to voice.

    A WaveNet of 16 layers, kernel 5, as in RVC; its layers train with weight norm.
    """

    def __init__(self, config: SynthesizerConfig) -> None:
        super().__init__()
        self.inter_channels = config.inter_channels
        self.pre = nn.Conv1d(config.spec_channels, config.hidden_channels, 1)
        self.enc = WaveNet(config.hidden_channels, 5, 1, 16, config.gin_channels)
        self.proj = nn.Conv1d(config.hidden_channels, 2 * config.inter_channels, 1)

    def forward(
        self, spec: torch.Tensor, mask: torch.Tensor, speaker: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, spec_channels, T)`` to a sample ``z`` and its mean and log-scale."""
        x = self.pre(spec) * mask
        x = _wavenet(self.enc, x, mask, speaker)
        stats = self.proj(x) * mask
        mean, log_scale = stats.split(self.inter_channels, dim=1)
        z = (mean + torch.randn_like(mean) * torch.exp(log_scale)) * mask
        return z, mean, log_scale


class TrainingSynthesizer(Synthesizer):
    """The synthesizer with its posterior encoder, weight norm where RVC trains with it,
    and RVC's initialisation; :meth:`forward` is one training step's generator pass."""

    def __init__(
        self, config: SynthesizerConfig, *, embedder_dim: int, pitch_guidance: bool
    ) -> None:
        super().__init__(config, embedder_dim=embedder_dim, pitch_guidance=pitch_guidance)
        self.enc_q = PosteriorEncoder(config)
        self._initialise()
        for name, module in list(self.named_modules()):
            if WEIGHT_NORMED_LAYER.match(name) or _is_posterior_wavenet_layer(name):
                nn.utils.parametrizations.weight_norm(module)

    def _initialise(self) -> None:
        """RVC's starting values where they are not torch's defaults: the generator's
        convolutions normal(0, 0.01), the flow an identity (``post`` at zero), the
        attention projections Xavier-uniform; and one of urvc's own, the pitch source's
        gain at 1.

        RVC leaves that gain (``m_source.l_linear``, one weight) to torch's draw from
        U(-1, 1) and trains from its pretrained networks, where the decoder has long
        learned to follow the sine. From scratch, a small draw leaves the sine faint: the
        decoder takes its pitch from the posterior's latent instead, which a conversion
        doesn't have, and training fades the sine further (the demo's voice, seed 1234:
        drawn -0.33, trained to -0.07, its pitch 400 cents low and deaf to a
        transposition; started at 1, within 10 cents and following one down)."""
        with torch.no_grad():
            source = getattr(self.dec, "m_source", None)
            if source is not None:
                nn.init.ones_(source.l_linear.weight)
                nn.init.zeros_(source.l_linear.bias)
            for name, module in self.named_modules():
                if name.startswith(("dec.ups.", "dec.resblocks.")) and isinstance(
                    module, (nn.Conv1d, nn.ConvTranspose1d)
                ):
                    nn.init.normal_(module.weight, 0.0, 0.01)
                elif name.startswith("flow.") and name.endswith(".post"):
                    nn.init.zeros_(module.weight)
                    nn.init.zeros_(module.bias)
                elif isinstance(module, RelativePositionAttention):
                    for conv in (module.conv_q, module.conv_k, module.conv_v):
                        nn.init.xavier_uniform_(conv.weight)

    def speaker(self, speaker_ids: torch.Tensor) -> torch.Tensor | None:
        """``(B, gin_channels, 1)`` speaker conditioning, or None without one."""
        if not self.config.gin_channels:
            return None
        return cast(torch.Tensor, self.emb_g(speaker_ids)).unsqueeze(-1)

    def prior(
        self,
        features: torch.Tensor,
        coarse: torch.Tensor | None,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The text encoder, batched: ``(B, T, embedder_dim)`` features (and ``(B, T)``
        coarse pitch) to the prior's ``(B, inter, T)`` mean and log-scale."""
        return _encode_text(self.enc_p, features, coarse, mask)

    def forward(
        self,
        features: torch.Tensor,
        coarse: torch.Tensor | None,
        pitch_hz: torch.Tensor | None,
        spec: torch.Tensor,
        lengths: torch.Tensor,
        speaker_ids: torch.Tensor,
        segment_starts: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """One generator pass of training (RVC's ``SynthesizerTrnMs*NSFsid.forward``).

        ``features`` ``(B, T, dim)``, ``coarse``/``pitch_hz`` ``(B, T)``, ``spec``
        ``(B, spec_channels, T)``, ``lengths`` ``(B,)``, ``segment_starts`` ``(B,)``:
        the first frame of each clip's slice of ``config.segment_size`` frames that the
        decoder voices. Returns the audio of those slices and what the KL loss needs.
        """
        segment = self.config.segment_size
        mask = sequence_mask(lengths, features.shape[1]).to(spec.dtype)
        speaker = self.speaker(speaker_ids)
        prior_mean, prior_log_scale = self.prior(features, coarse, mask)
        z, _, posterior_log_scale = self.enc_q(spec, mask, speaker)
        z_p = _flow_forward(self, z, mask, speaker)
        z_slice = slice_frames(z, segment_starts, segment)
        pitch_slice = (
            slice_frames(pitch_hz, segment_starts, segment) if pitch_hz is not None else None
        )
        audio = generate(self.dec, z_slice, speaker, pitch_slice)
        return {
            "audio": audio,
            "z_p": z_p,
            "prior_mean": prior_mean,
            "prior_log_scale": prior_log_scale,
            "posterior_log_scale": posterior_log_scale,
            "mask": mask,
        }

    def synthesize(
        self,
        features: torch.Tensor,
        coarse: torch.Tensor | None,
        pitch_hz: torch.Tensor | None,
        lengths: torch.Tensor,
        speaker_ids: torch.Tensor,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        """Inference on a batch, as a voice model converts (the prior, the flow in
        reverse, the decoder on every frame): ``(B, T * hop)`` audio. ``noise`` is the
        prior's standard-normal noise, ``(B, inter, T)``."""
        from urvc_core.rvc.synthesizer import PRIOR_NOISE_SCALE

        mask = sequence_mask(lengths, features.shape[1])
        speaker = self.speaker(speaker_ids)
        mean, log_scale = self.prior(features, coarse, mask)
        z_p = (mean + torch.exp(log_scale) * noise * PRIOR_NOISE_SCALE) * mask
        z = _flow_reverse(self, z_p, mask, speaker)
        return generate(self.dec, z * mask, speaker, pitch_hz)[:, 0]


#: The posterior encoder's WaveNet layers, which train with weight norm too.
_POSTERIOR_WEIGHT_NORMED_LAYER = re.compile(
    r"^enc_q\.enc\.(in_layers\.\d+|res_skip_layers\.\d+|cond_layer)$"
)


def _is_posterior_wavenet_layer(name: str) -> bool:
    return _POSTERIOR_WEIGHT_NORMED_LAYER.match(name) is not None


def slice_frames(x: torch.Tensor, starts: torch.Tensor, frames: int) -> torch.Tensor:
    """``frames`` frames of each batch item from its start (the last axis)."""
    offsets = starts[:, None] + torch.arange(frames, device=x.device)[None, :]
    if x.dim() == 2:
        return torch.gather(x, 1, offsets)
    index = offsets[:, None, :].expand(x.shape[0], x.shape[1], frames)
    return torch.gather(x, 2, index)


def _encode_text(
    encoder: TextEncoder,
    features: torch.Tensor,
    coarse: torch.Tensor | None,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    x = encoder.emb_phone(features)
    if encoder.emb_pitch is not None:
        if coarse is None:
            raise ValueError("this synthesizer has pitch guidance and needs a pitch")
        x = x + encoder.emb_pitch(coarse)
    x = F.leaky_relu(x * math.sqrt(encoder.hidden_channels), 0.1).transpose(1, 2)
    x = _attention_encoder(encoder.encoder, x * mask, mask)
    stats = encoder.proj(x) * mask
    mean, log_scale = stats.split(encoder.inter_channels, dim=1)
    return mean, log_scale


def _attention_encoder(
    encoder: AttentionEncoder, x: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    layers = zip(
        encoder.attn_layers,
        encoder.norm_layers_1,
        encoder.ffn_layers,
        encoder.norm_layers_2,
        strict=True,
    )
    for attention, norm_1, feed_forward, norm_2 in layers:
        y = _attention(cast(RelativePositionAttention, attention), x, mask)
        x = norm_1((x + y).transpose(1, 2)).transpose(1, 2)
        y = _feed_forward(cast(FeedForward, feed_forward), x, mask)
        x = norm_2((x + y).transpose(1, 2)).transpose(1, 2)
    return x * mask


@functools.lru_cache(maxsize=64)
def _relative_indices(frames: int, window: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """For ``[i, j]``: the relative-embedding column ``j - i + window`` (clamped) and
    whether it is inside the window; for ``[i, r]``: the key ``i + r - window``
    (clamped) and whether it exists."""
    rows = torch.arange(frames, device=device)
    offsets = rows[None, :] - rows[:, None] + window
    in_window = (offsets >= 0) & (offsets <= 2 * window)
    keys = rows[:, None] + torch.arange(2 * window + 1, device=device)[None, :] - window
    key_exists = (keys >= 0) & (keys < frames)
    return offsets.clamp(0, 2 * window), in_window, keys.clamp(0, frames - 1), key_exists


def _attention(
    layer: RelativePositionAttention, x: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """VITS's relative-position attention on ``(B, C, T)``, masked."""
    batch, channels, frames = x.shape
    heads, head_channels, window = layer.n_heads, layer.head_channels, layer.window

    def split_heads(conv: nn.Module) -> torch.Tensor:
        return conv(x).view(batch, heads, head_channels, frames).transpose(2, 3)

    query = split_heads(layer.conv_q) * head_channels**-0.5
    key, value = split_heads(layer.conv_k), split_heads(layer.conv_v)
    offsets, in_window, keys, key_exists = _relative_indices(frames, window, x.device)
    scores = query @ key.transpose(2, 3)
    relative_logits = query @ layer.emb_rel_k[0].t()  # (B, heads, T, 2w + 1)
    expanded = offsets.expand(batch, heads, frames, frames)
    scores = scores + torch.gather(relative_logits, 3, expanded) * in_window
    pair_mask = mask.unsqueeze(2) * mask.unsqueeze(3)  # (B, 1, T, T)
    scores = scores.masked_fill(pair_mask == 0, _MASKED_SCORE)
    probabilities = torch.softmax(scores, dim=-1)
    output = probabilities @ value
    band = torch.gather(probabilities, 3, keys.expand(batch, heads, frames, 2 * window + 1))
    output = output + (band * key_exists) @ layer.emb_rel_v[0]
    output = output.transpose(2, 3).reshape(batch, channels, frames)
    return cast(torch.Tensor, layer.conv_o(output))


def _feed_forward(layer: FeedForward, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    hidden = F.conv1d(F.pad(x * mask, layer.padding), layer.conv_1.weight, layer.conv_1.bias)
    hidden = torch.relu(hidden)
    output = F.conv1d(F.pad(hidden * mask, layer.padding), layer.conv_2.weight, layer.conv_2.bias)
    return output * mask


def _wavenet(
    network: WaveNet, x: torch.Tensor, mask: torch.Tensor, speaker: torch.Tensor | None
) -> torch.Tensor:
    hidden = network.hidden_channels
    conditioning = (
        network.cond_layer(speaker)
        if network.cond_layer is not None and speaker is not None
        else None
    )
    output = torch.zeros_like(x)
    for index, (in_layer, res_skip_layer) in enumerate(
        zip(network.in_layers, network.res_skip_layers, strict=True)
    ):
        gates = in_layer(x)
        if conditioning is not None:
            gates = gates + conditioning[:, index * 2 * hidden : (index + 1) * 2 * hidden]
        acts = torch.tanh(gates[:, :hidden]) * torch.sigmoid(gates[:, hidden:])
        res_skip = res_skip_layer(acts)
        if index < network.n_layers - 1:
            x = (x + res_skip[:, :hidden]) * mask
            output = output + res_skip[:, hidden:]
        else:
            output = output + res_skip
    return output * mask


def _coupling_shift(
    layer: ResidualCouplingLayer, x0: torch.Tensor, mask: torch.Tensor, speaker: torch.Tensor | None
) -> torch.Tensor:
    hidden = layer.pre(x0) * mask
    hidden = _wavenet(layer.enc, hidden, mask, speaker)
    return cast(torch.Tensor, layer.post(hidden)) * mask


def _flow_forward(
    network: Synthesizer, x: torch.Tensor, mask: torch.Tensor, speaker: torch.Tensor | None
) -> torch.Tensor:
    """The flow from the posterior's latent towards the prior (training's direction)."""
    for flow in network.flow.flows:
        if isinstance(flow, Flip):
            x = torch.flip(x, [1])
            continue
        layer = cast(ResidualCouplingLayer, flow)
        x0, x1 = x[:, : layer.half_channels], x[:, layer.half_channels :]
        x = torch.cat([x0, _coupling_shift(layer, x0, mask, speaker) + x1 * mask], dim=1)
    return x


def _flow_reverse(
    network: Synthesizer, x: torch.Tensor, mask: torch.Tensor, speaker: torch.Tensor | None
) -> torch.Tensor:
    for flow in reversed(network.flow.flows):
        if isinstance(flow, Flip):
            x = torch.flip(x, [1])
            continue
        layer = cast(ResidualCouplingLayer, flow)
        x0, x1 = x[:, : layer.half_channels], x[:, layer.half_channels :]
        x = torch.cat([x0, (x1 - _coupling_shift(layer, x0, mask, speaker)) * mask], dim=1)
    return x


def generate(
    decoder: HiFiGANGenerator,
    z: torch.Tensor,
    speaker: torch.Tensor | None,
    pitch_hz: torch.Tensor | None,
) -> torch.Tensor:
    """The decoder, batched: ``(B, inter, T)`` latent to ``(B, 1, T * hop)`` audio."""
    x = decoder.conv_pre(z)
    if decoder.cond is not None and speaker is not None:
        x = x + decoder.cond(speaker)
    source = None
    if isinstance(decoder, NSFHiFiGANGenerator):
        if pitch_hz is None:
            raise ValueError("this synthesizer has pitch guidance and needs a pitch")
        source = _excitation(decoder, pitch_hz)
    kernels = decoder.num_kernels
    for index, upsample in enumerate(decoder.ups):
        x = upsample(F.leaky_relu(x, LRELU_SLOPE))
        if source is not None:
            x = x + cast(NSFHiFiGANGenerator, decoder).noise_convs[index](source)
        blocks = decoder.resblocks[index * kernels : (index + 1) * kernels]
        summed = sum(_residual_block(block, x) for block in blocks)
        x = cast(torch.Tensor, summed) / kernels
    x = decoder.conv_post(F.leaky_relu(x))
    return torch.tanh(x)


def _residual_block(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(block, ResBlock1):
        for conv_1, conv_2 in zip(block.convs1, block.convs2, strict=True):
            hidden = conv_1(F.leaky_relu(x, LRELU_SLOPE))
            x = conv_2(F.leaky_relu(hidden, LRELU_SLOPE)) + x
        return x
    for conv in cast(nn.ModuleList, block.convs):
        x = conv(F.leaky_relu(x, LRELU_SLOPE)) + x
    return x


def _excitation(decoder: NSFHiFiGANGenerator, pitch_hz: torch.Tensor) -> torch.Tensor:
    """RVC's sine source for a batch, ``(B, 1, T * hop)``: the sine at the pitch from
    phase 0 (as for the fundamental of ``SineGen``), fresh noise each call, shaped by
    ``m_source``."""
    hop, rate = decoder.hop_length, decoder.sample_rate
    pitch = pitch_hz.to(torch.float32).clamp_min(0.0)
    cycles = pitch.to(torch.float64) * (hop / rate)
    starts = torch.remainder(torch.cumsum(cycles, 1) - cycles, 1.0).to(torch.float32)
    steps = torch.arange(1, hop + 1, dtype=torch.float32, device=pitch.device)
    phase = starts[:, :, None] + (pitch / rate)[:, :, None] * steps
    voiced = (pitch > 0).to(torch.float32)[:, :, None]
    sine = torch.sin(2 * math.pi * phase) * SINE_AMPLITUDE * voiced
    noise_std = voiced * VOICED_NOISE_STD + (1 - voiced) * UNVOICED_NOISE_STD
    source = (sine + noise_std * torch.randn_like(sine)).reshape(pitch.shape[0], 1, -1)
    linear = decoder.m_source.l_linear
    return torch.tanh(source * linear.weight.view(()) + linear.bias.view(()))


# --- the discriminator -----------------------------------------------------------------


def _weight_normed(layer: nn.Module) -> nn.Module:
    return nn.utils.parametrizations.weight_norm(layer)


def _scores_and_feature_maps(
    convs: nn.ModuleList, conv_post: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator's pass: each convolution with its leaky ReLU, then ``conv_post``;
    the flattened scores and every layer's output (for the feature-matching loss)."""
    feature_maps = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        feature_maps.append(x)
    x = conv_post(x)
    feature_maps.append(x)
    return torch.flatten(x, 1, -1), feature_maps


class ScaleDiscriminator(nn.Module):
    """RVC's ``DiscriminatorS``: grouped strided convolutions over the waveform.

    ``narrowing`` divides every channel count and group count: 1 is RVC's."""

    def __init__(self, narrowing: int = 1) -> None:
        super().__init__()
        n = narrowing
        shapes = [
            (1, 16 // n, 15, 1, 1, 7),
            (16 // n, 64 // n, 41, 4, max(1, 4 // n), 20),
            (64 // n, 256 // n, 41, 4, max(1, 16 // n), 20),
            (256 // n, 1024 // n, 41, 4, max(1, 64 // n), 20),
            (1024 // n, 1024 // n, 41, 4, max(1, 256 // n), 20),
            (1024 // n, 1024 // n, 5, 1, 1, 2),
        ]
        self.convs = nn.ModuleList(
            _weight_normed(nn.Conv1d(i, o, k, s, groups=g, padding=p))
            for i, o, k, s, g, p in shapes
        )
        self.conv_post = _weight_normed(nn.Conv1d(1024 // n, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _scores_and_feature_maps(self.convs, self.conv_post, x)


class PeriodDiscriminator(nn.Module):
    """RVC's ``DiscriminatorP``: the waveform folded into rows of ``period`` samples."""

    def __init__(self, period: int, narrowing: int = 1) -> None:
        super().__init__()
        self.period = period
        channels = [1, *(c // narrowing for c in (32, 128, 512, 1024, 1024))]
        self.convs = nn.ModuleList(
            _weight_normed(
                nn.Conv2d(
                    channels[index],
                    channels[index + 1],
                    (5, 1),
                    (3 if index < 4 else 1, 1),
                    padding=(2, 0),
                )
            )
            for index in range(5)
        )
        self.conv_post = _weight_normed(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, samples = x.shape
        if samples % self.period:
            padding = self.period - samples % self.period
            x = F.pad(x, (0, padding), "reflect")
            samples += padding
        x = x.view(batch, channels, samples // self.period, self.period)
        return _scores_and_feature_maps(self.convs, self.conv_post, x)


class MultiPeriodDiscriminator(nn.Module):
    """The scale discriminator and one period discriminator per period of ``version``.

    ``narrowing`` divides the channel counts: 1 is RVC's (71 M parameters for v2, most
    of a CPU training step's time); the small network trains against a 4× narrower one.
    """

    def __init__(self, version: str, narrowing: int = 1) -> None:
        super().__init__()
        self.version = version
        self.discriminators = nn.ModuleList(
            [
                ScaleDiscriminator(narrowing),
                *(PeriodDiscriminator(p, narrowing) for p in DISCRIMINATOR_PERIODS[version]),
            ]
        )

    def forward(
        self, real: torch.Tensor, generated: torch.Tensor
    ) -> tuple[
        list[torch.Tensor], list[torch.Tensor], list[list[torch.Tensor]], list[list[torch.Tensor]]
    ]:
        """Scores and feature maps of each discriminator for the real and generated audio
        (``(B, 1, samples)`` each)."""
        real_scores, generated_scores, real_maps, generated_maps = [], [], [], []
        for discriminator in self.discriminators:
            score, maps = discriminator(real)
            real_scores.append(score)
            real_maps.append(maps)
            score, maps = discriminator(generated)
            generated_scores.append(score)
            generated_maps.append(maps)
        return real_scores, generated_scores, real_maps, generated_maps


# --- losses -----------------------------------------------------------------------------


def discriminator_loss(real: list[torch.Tensor], generated: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN: real scores towards 1, generated towards 0."""
    return cast(
        torch.Tensor,
        sum(
            torch.mean((1 - r.float()) ** 2) + torch.mean(g.float() ** 2)
            for r, g in zip(real, generated, strict=True)
        ),
    )


def generator_loss(generated: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares GAN, the generator's side: generated scores towards 1."""
    return cast(torch.Tensor, sum(torch.mean((1 - g.float()) ** 2) for g in generated))


def feature_matching_loss(
    real_maps: list[list[torch.Tensor]], generated_maps: list[list[torch.Tensor]]
) -> torch.Tensor:
    """Twice the mean absolute difference of every discriminator feature map."""
    total = sum(
        torch.mean(torch.abs(r.float().detach() - g.float()))
        for real, generated in zip(real_maps, generated_maps, strict=True)
        for r, g in zip(real, generated, strict=True)
    )
    return cast(torch.Tensor, total) * 2


def kl_loss(
    z_p: torch.Tensor,
    posterior_log_scale: torch.Tensor,
    prior_mean: torch.Tensor,
    prior_log_scale: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """KL between the posterior (pushed through the flow) and the prior, per frame."""
    z_p, posterior_log_scale = z_p.float(), posterior_log_scale.float()
    prior_mean, prior_log_scale = prior_mean.float(), prior_log_scale.float()
    kl = prior_log_scale - posterior_log_scale - 0.5
    kl = kl + 0.5 * (z_p - prior_mean) ** 2 * torch.exp(-2.0 * prior_log_scale)
    return torch.sum(kl * mask) / torch.sum(mask)


# --- spectrograms -------------------------------------------------------------------------


def _hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    mels = frequencies / (200.0 / 3)
    log_region = frequencies >= 1000.0
    mels[log_region] = 15.0 + np.log(frequencies[log_region] / 1000.0) / (np.log(6.4) / 27.0)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    frequencies = mels * (200.0 / 3)
    log_region = mels >= 15.0
    frequencies[log_region] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels[log_region] - 15.0))
    return frequencies


@functools.lru_cache(maxsize=16)
def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)`` triangular filters, Slaney-scaled and -normalised:
    the filterbank RVC's mel loss uses (librosa's ``filters.mel`` defaults)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_frequencies = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = np.array([fmin, fmax], dtype=np.float64)
    low, high = _hz_to_mel(edges.copy())
    mel_frequencies = _mel_to_hz(np.linspace(low, high, n_mels + 2))
    widths = np.diff(mel_frequencies)
    ramps = mel_frequencies[:, None] - fft_frequencies[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_frequencies[2:] - mel_frequencies[:-2]))[:, None]
    return weights.astype(np.float32)


class MelSpectrogram(nn.Module):
    """RVC's spectrograms: the magnitude STFT (``center=False``, reflect-padded so a clip
    of ``T * hop`` samples gives ``T`` frames) and its log mel (floor 1e-5)."""

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, n_mels: int) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        filters = torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels))
        self.register_buffer("filters", filters, persistent=False)

    def magnitude(self, audio: torch.Tensor) -> torch.Tensor:
        """``(B, samples)`` to ``(B, n_fft // 2 + 1, samples // hop)``."""
        padding = (self.n_fft - self.hop_length) // 2
        padded = F.pad(audio.float().unsqueeze(1), (padding, padding), mode="reflect").squeeze(1)
        spectrum = torch.stft(
            padded,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.n_fft,
            window=cast(torch.Tensor, self.window),
            center=False,
            onesided=True,
            return_complex=True,
        )
        return torch.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-6)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``(B, samples)`` to the ``(B, n_mels, samples // hop)`` log mel spectrogram."""
        return self.log_mel(self.magnitude(audio))

    def log_mel(self, magnitude: torch.Tensor) -> torch.Tensor:
        mel = cast(torch.Tensor, self.filters) @ magnitude
        return torch.log(torch.clamp(mel, min=1e-5))
