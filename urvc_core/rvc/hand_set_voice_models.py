"""A voice model whose weights are set by hand, not trained: it hums the melody.

``urvc demo`` must make a cover a new user can hear, on a machine that can download no
voice model and before urvc can train one. A model with random weights renders a
near-constant (its output is mostly an offset), so the demo's model is built instead:
every weight of an RVC synthesizer is *set* so that the network renders the one thing
it can render without training, its own pitch-driven source.

RVC's NSF decoder is given a sine at the sung pitch (``m_source``). Here it is turned
into a buzzing voice that follows the singer:

* the text encoder ignores the content features and passes the pitch embedding's
  voiced/unvoiced distinction to the decoder as a *gate* (the flow is the identity);
* the decoder carries that gate up to the output rate (sample-and-hold through the
  transposed convolutions; the residual blocks are the identity up to there) and adds
  the source;
* in the last stage, one residual block's leaky ReLUs keep only the source's peaks
  above a threshold, and only in voiced frames: a train of narrow pulses at the pitch,
  like the glottis's, rich in harmonics, which the block then smooths so that their
  spectrum falls above 1 kHz as a voice's does; ``conv_post`` is a band-pass whose taps
  sum to zero, so no offset can come out.

So the output has the input's melody and rhythm (silent where nothing is sung) with a
timbre that is nobody's, and no words: content features are what a trained model turns
into words, and nothing here is trained. The file is a real community-format ``.pth``,
so every loader reads it like any other model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from urvc_core.rvc.random_voice_models import tiny_config
from urvc_core.rvc.synthesizer import (
    NSFHiFiGANGenerator,
    ResBlock1,
    ResidualCouplingLayer,
    Synthesizer,
    SynthesizerConfig,
    _upsampling_padding,
    unfold_weight_norm,
)
from urvc_core.rvc.voice_model import EMBEDDER_DIMS, save_voice_model

__all__ = ["build_hand_set_voice_file", "hand_set_synthesizer"]

#: Gain of ``m_source`` on the sine (amplitude 0.1): the excitation is about ±0.76.
_SOURCE_GAIN = 10.0
#: Only excitation above this passes the last ReLU: pulses about a quarter period wide.
_PULSE_THRESHOLD = 0.45
#: Added to the threshold in unvoiced frames: far above any excitation (noise included).
_UNVOICED_GATE = 8.0
#: ``conv_post``'s taps: a smoothed first difference (zero sum, so no offset passes),
#: scaled so that the pulses' peaks come out near -3 dBFS (the output tanh only rounds
#: them) and the voice within a few LU of the vocals it converts, as a trained model's is.
_OUTPUT_TAPS = (-1.0, -2.0, -1.0, 0.0, 1.0, 2.0, 1.0)
_OUTPUT_GAIN = 25.0
#: The prior's log-scale: exp(-20) makes its noise vanish, so the output is deterministic.
_PRIOR_LOG_SCALE = -20.0


def hand_set_synthesizer(config: SynthesizerConfig, *, version: str = "v1") -> Synthesizer:
    """A pitch-guided synthesizer for ``config`` with the weights described above."""
    network = Synthesizer(config, embedder_dim=EMBEDDER_DIMS[version], pitch_guidance=True)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.zero_()
        _set_text_encoder(network, config)
        # The flow's coupling layers shift by post(...), now zero: each is the identity,
        # and its four channel flips cancel out.
        for flow in network.flow.flows:
            if isinstance(flow, ResidualCouplingLayer):
                assert not flow.post.weight.any()
        _set_decoder(cast(NSFHiFiGANGenerator, network.dec), config)
    return network.eval().requires_grad_(False)


def _set_text_encoder(network: Synthesizer, config: SynthesizerConfig) -> None:
    """Make the prior's mean channel 0 the gate: 0 in voiced frames, 1 in unvoiced ones.

    With zero attention and feed-forward outputs, each encoder layer is its layer norm,
    so the encoder's output is the normalised pitch embedding; two embedding rows (bin 1
    is unvoiced, every other bin voiced) and a projection that tells them apart do it.
    """
    encoder = network.enc_p
    assert encoder.emb_pitch is not None
    hidden = config.hidden_channels
    voiced = torch.zeros(hidden)
    voiced[0] = 1.0
    unvoiced = torch.zeros(hidden)
    unvoiced[1] = 1.0
    encoder.emb_pitch.weight.copy_(voiced.expand(256, hidden))
    encoder.emb_pitch.weight[1] = unvoiced
    for norm in (*encoder.encoder.norm_layers_1, *encoder.encoder.norm_layers_2):
        norm.gamma.fill_(1.0)

    def encoded(row: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(row * math.sqrt(hidden), 0.1)
        return F.layer_norm(x, (hidden,))

    voiced_out, unvoiced_out = encoded(voiced), encoded(unvoiced)
    difference = unvoiced_out - voiced_out
    direction = difference / difference.pow(2).sum()
    projection = cast(torch.Tensor, encoder.proj.bias)
    encoder.proj.weight[0, :, 0] = direction
    projection[0] = -float(direction @ voiced_out)
    projection[config.inter_channels :] = _PRIOR_LOG_SCALE


def _hold_taps(weight: torch.Tensor, rate: int, kernel_size: int, value: float) -> None:
    """Taps of a transposed convolution (channel 0 to 0) that repeat each input ``rate``
    times, aligned with the output (sample-and-hold)."""
    padding, _ = _upsampling_padding(rate, kernel_size)
    weight[0, 0, padding : padding + rate] = value


def _set_decoder(decoder: NSFHiFiGANGenerator, config: SynthesizerConfig) -> None:
    centre = decoder.conv_pre.kernel_size[0] // 2
    decoder.conv_pre.weight[0, 0, centre] = 1.0
    last = len(decoder.ups) - 1
    for index, (rate, kernel_size) in enumerate(
        zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True)
    ):
        upsample = cast(nn.ConvTranspose1d, decoder.ups[index])
        # The gate (>= 0, so the leaky ReLUs before each stage leave it alone) is held up
        # to the next rate; the last stage turns it into an offset below the threshold.
        _hold_taps(upsample.weight, rate, kernel_size, -_UNVOICED_GATE if index == last else 1.0)
    last_upsample = cast(nn.ConvTranspose1d, decoder.ups[last])
    cast(torch.Tensor, last_upsample.bias)[0] = -_PULSE_THRESHOLD
    # The source joins at the output rate only (that stage's conv has kernel 1, stride 1).
    source_conv = cast(nn.Conv1d, decoder.noise_convs[last])
    assert source_conv.kernel_size[0] == 1 and source_conv.stride[0] == 1
    source_conv.weight[0, 0, 0] = 1.0
    decoder.m_source.l_linear.weight.fill_(_SOURCE_GAIN)
    output_channel = _set_vocal_filter(decoder, last)
    taps = torch.tensor(_OUTPUT_TAPS)
    decoder.conv_post.weight[0, output_channel, :] = _OUTPUT_GAIN * taps / taps.abs().sum()


def _set_vocal_filter(decoder: NSFHiFiGANGenerator, stage: int) -> int:
    """Rectify and low-pass the source in the last stage's widest residual block;
    returns the channel the result is in.

    The block's first pair rectifies channel 0 (its two leaky ReLUs leave 1 % of what
    lies below the threshold) into channel 1 and smooths it with a Hann window (about
    -6 dB at 3.6 kHz at 40 kHz): the pulses' spectrum then falls off above 1 kHz much
    as a voice's does. The window's taps are positive, so the smoothed pulses stay
    positive and the leaky ReLU after leaves them alone. The other pairs and blocks
    stay the identity.
    """
    per_stage = decoder.num_kernels
    blocks = decoder.resblocks[stage * per_stage : (stage + 1) * per_stage]
    block = max((cast(ResBlock1, b) for b in blocks), key=_kernel_size)
    rectify, smooth = cast(nn.Conv1d, block.convs1[0]), cast(nn.Conv1d, block.convs2[0])
    rectify.weight[1, 0, rectify.kernel_size[0] // 2] = 1.0
    smooth.weight[1, 1, :] = _hann(smooth.kernel_size[0])
    return 1


def _kernel_size(block: ResBlock1) -> int:
    return cast(nn.Conv1d, block.convs1[0]).kernel_size[0]


def _hann(taps: int) -> torch.Tensor:
    """A Hann window of ``taps`` taps (zeros at neither end) with unit sum."""
    window = torch.hann_window(taps + 2, periodic=False)[1:-1]
    return window / window.sum()


def build_hand_set_voice_file(
    path: Path,
    *,
    version: str = "v1",
    sample_rate: int = 40000,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write the hand-set model in the community layout (legacy weight norm); returns
    ``path``. It has the tiny configuration of :func:`tiny_config` (the real rates)."""
    config = tiny_config(version, sample_rate)
    network = hand_set_synthesizer(config, version=version)
    weights = _give_zero_slices_a_direction(
        unfold_weight_norm(network.state_dict(), style="legacy")
    )
    metadata = dict(metadata or {})
    metadata.setdefault("info", "urvc hand-set model: hums the melody, not trained")
    return save_voice_model(
        Path(path),
        weights,
        config,
        version,
        True,
        weight_norm="legacy",
        metadata=metadata,
    )


def _give_zero_slices_a_direction(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Most weight-normed slices here are zero, so ``g = ||v|| = 0`` and loaders would
    compute ``0 · v / 0``: give those slices a unit direction (``g = 0`` keeps them 0)."""
    for name, magnitude in weights.items():
        if not name.endswith(".weight_g"):
            continue
        direction = weights[name[: -len("_g")] + "_v"]
        zero = (magnitude == 0).expand_as(direction)
        direction[zero] = 1.0
    return weights
