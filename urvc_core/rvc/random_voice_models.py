"""Voice model files with random weights, in the community ``.pth`` format.

``urvc demo`` needs a voice model on a machine that may have no internet, and tests and
benchmarks need models of every version, rate and storage format: these are real files
in the layout RVC trainers write (:func:`VoiceModel.load
<urvc_core.rvc.voice_model.VoiceModel.load>` reads them like any other), with random
weights. ``tiny`` models have the real upsampling rates (so the real hop length and
sample rate) but a handful of channels, and synthesize a second of audio in milliseconds;
``full`` models have RVC's exact configurations, for tests of file layout and of speed::

    from urvc_core.rvc.random_voice_models import build_voice_model_file

    path = build_voice_model_file(folder / "voice.pth", version="v1", sample_rate=48000)
    model = VoiceModel.load(path)

The weights are random but scaled so that the output is audible: a tiny model's
speech-like input comes out at roughly -20 dBFS, never silent and never clipped flat.
Tests import the same functions from :mod:`urvc_core.testing.voice_models`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from urvc_core.rvc.synthesizer import (
    WEIGHT_NORMED_LAYER,
    RelativePositionAttention,
    Synthesizer,
    SynthesizerConfig,
    apply_weight_norm,
    unfold_weight_norm,
)
from urvc_core.rvc.voice_model import EMBEDDER_DIMS, save_voice_model

__all__ = [
    "build_voice_model_file",
    "full_size_config",
    "make_attention_local",
    "random_synthesizer",
    "tiny_config",
    "upsampling_kernel_sizes",
]

#: RVC's upsampling per version and sample rate: (rates, kernel sizes, spec channels),
#: from its configs/v1|v2/<rate>.json and extract_small_model (v2 40k is v1's).
_UPSAMPLING: dict[tuple[str, int], tuple[tuple[int, ...], tuple[int, ...], int]] = {
    ("v1", 32000): ((10, 4, 2, 2, 2), (16, 16, 4, 4, 4), 513),
    ("v1", 40000): ((10, 10, 2, 2), (16, 16, 4, 4), 1025),
    ("v1", 48000): ((10, 6, 2, 2, 2), (16, 16, 4, 4, 4), 1025),
    ("v2", 32000): ((10, 8, 2, 2), (20, 16, 4, 4), 513),
    ("v2", 40000): ((10, 10, 2, 2), (16, 16, 4, 4), 1025),
    ("v2", 48000): ((12, 10, 2, 2), (24, 20, 4, 4), 1025),
}
#: Output RMS (before the final tanh) the random weights are scaled to: about -20 dBFS.
_TARGET_RMS = 0.1
#: Frames of random input the output level is measured on when scaling.
_CALIBRATION_FRAMES = 40


def _upsampling(version: str, sample_rate: int) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    try:
        return _UPSAMPLING[(version, sample_rate)]
    except KeyError:
        raise ValueError(
            f"RVC has no {version} configuration at {sample_rate} Hz; "
            f"versions v1 and v2 come at 32000, 40000 and 48000 Hz"
        ) from None


def upsampling_kernel_sizes() -> dict[tuple[int, ...], int]:
    """The sample rate each of RVC's upsampling kernel lists belongs to (v1 and v2
    share 40 kHz's, and no two rates share one)."""
    return {kernels: rate for (_, rate), (_, kernels, _) in _UPSAMPLING.items()}


def full_size_config(version: str = "v2", sample_rate: int = 40000) -> SynthesizerConfig:
    """RVC's own configuration for ``version`` at ``sample_rate``, as its files store it."""
    rates, kernel_sizes, spec_channels = _upsampling(version, sample_rate)
    return SynthesizerConfig(
        spec_channels=spec_channels,
        segment_size=32,
        inter_channels=192,
        hidden_channels=192,
        filter_channels=768,
        n_heads=2,
        n_layers=6,
        kernel_size=3,
        p_dropout=0.0,
        resblock="1",
        resblock_kernel_sizes=(3, 7, 11),
        resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        upsample_rates=rates,
        upsample_initial_channel=512,
        upsample_kernel_sizes=kernel_sizes,
        spk_embed_dim=109,
        gin_channels=256,
        sr=sample_rate,
    )


def tiny_config(version: str = "v2", sample_rate: int = 40000) -> SynthesizerConfig:
    """A few channels wide, with RVC's real upsampling for ``version`` and the rate.

    Every part of the network is there (two attention layers, four flows, ResBlock1
    with RVC's kernel sizes and dilations), so the code paths are those of a real model.
    """
    rates, kernel_sizes, spec_channels = _upsampling(version, sample_rate)
    return SynthesizerConfig(
        spec_channels=spec_channels,
        segment_size=32,
        inter_channels=16,
        hidden_channels=16,
        filter_channels=32,
        n_heads=2,
        n_layers=2,
        kernel_size=3,
        p_dropout=0.0,
        resblock="1",
        resblock_kernel_sizes=(3, 7, 11),
        resblock_dilation_sizes=((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        upsample_rates=rates,
        upsample_initial_channel=64,
        upsample_kernel_sizes=kernel_sizes,
        spk_embed_dim=1,
        gin_channels=8,
        sr=sample_rate,
    )


def random_synthesizer(
    config: SynthesizerConfig,
    *,
    version: str = "v2",
    pitch_guidance: bool = True,
    seed: int = 0,
    weight_norm: bool = True,
    local_attention: bool = False,
) -> Synthesizer:
    """A synthesizer with random weights that produces audible output, in eval mode.

    With ``weight_norm`` the layers RVC trains with weight norm carry torch's own
    ``parametrizations.weight_norm``, with magnitudes that differ from the directions'
    norms (as after training), so folding them is not a no-op; without it the network
    is plain and fast. ``local_attention``: see :func:`make_attention_local`.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = Synthesizer(
            config, embedder_dim=EMBEDDER_DIMS[version], pitch_guidance=pitch_guidance
        )
        with torch.no_grad():
            _randomize(network)
        network.eval().requires_grad_(False)
        if local_attention:
            make_attention_local(network)
        _scale_to_audible(network, seed)
        if weight_norm:
            # g = ||w|| and v = w at first; rescaling v leaves the weight as it is.
            apply_weight_norm(network)
            with torch.no_grad():
                for name, parameter in network.named_parameters():
                    if name.endswith("parametrizations.weight.original1"):
                        parameter.mul_(_direction_scales(parameter))
            network.requires_grad_(False)
    return network


def _direction_scales(direction: torch.Tensor) -> torch.Tensor:
    """Random positive factors per slice along dim 0: scaling a weight-norm direction
    ``v`` by them changes ``||v||`` (so that ``g != ||v||``) but not the weight."""
    shape = (direction.shape[0],) + (1,) * (direction.dim() - 1)
    return 0.5 + 1.5 * torch.rand(shape, dtype=direction.dtype)


def _randomize(network: Synthesizer) -> None:
    """Change what torch's default initialisation leaves unusable for a random model.

    RVC starts the flow's ``post`` layers at zero (an identity flow); random ones make
    the flow do something. The generator's layers start as RVC's do (normal, 0.01).
    """
    for name, module in network.named_modules():
        if name.startswith("flow.") and name.endswith(".post"):
            nn.init.normal_(module.weight, std=0.05)
            nn.init.normal_(module.bias, std=0.05)
        elif name.startswith(("dec.ups.", "dec.resblocks.")) and isinstance(
            module, (nn.Conv1d, nn.ConvTranspose1d)
        ):
            nn.init.normal_(module.weight, std=0.01)
        if WEIGHT_NORMED_LAYER.match(name):
            # Trained magnitudes vary from channel to channel.
            module.weight.mul_(_direction_scales(module.weight))


def _scale_to_audible(network: Synthesizer, seed: int) -> None:
    """Scale ``dec.conv_post`` so a short random input comes out at ``_TARGET_RMS``."""
    generator = torch.Generator().manual_seed(seed)
    frames = _CALIBRATION_FRAMES
    features = torch.randn(frames, network.embedder_dim, generator=generator)
    pitch = torch.full((frames,), 180.0) if network.pitch_guidance else None
    noise = torch.randn(network.config.inter_channels, frames, generator=generator)
    with torch.inference_mode():
        # The level before the tanh: conv_post is linear and has no bias.
        audio = network.infer(features, pitch, speaker_id=0, noise=noise)
        pre_tanh = torch.atanh(audio.clamp(-0.999999, 0.999999))
    rms = float(pre_tanh.pow(2).mean().sqrt())
    if rms > 0 and math.isfinite(rms):
        with torch.no_grad():
            network.dec.conv_post.weight.mul_(_TARGET_RMS / rms)


def make_attention_local(network: Synthesizer, *, strength: float = 40.0) -> Synthesizer:
    """Make the text encoder attend only within its relative-position window (±10 frames).

    Trained RVC models attend mostly to nearby frames; random ones spread attention over
    the whole input, so that no two chunks of a long input see the same context. With
    constant queries, content-blind keys and a relative-key bias of ``strength`` inside
    the window, a frame gives ``exp(-strength)`` of its attention to anything outside:
    chunked synthesis then reproduces unchunked synthesis to rounding error.
    """
    with torch.no_grad():
        for attention in network.enc_p.encoder.attn_layers:
            assert isinstance(attention, RelativePositionAttention)
            heads, head_channels = attention.n_heads, attention.head_channels
            attention.conv_q.weight.zero_()
            attention.conv_k.weight.zero_()
            # The heads share one relative-key table, so they get one query too.
            query = torch.linspace(0.5, 1.5, head_channels)
            cast(torch.Tensor, attention.conv_q.bias).copy_(query.repeat(heads))
            # The query is scaled by head_channels**-0.5 before meeting the relative keys.
            relative_key = strength * math.sqrt(head_channels) * query / query.pow(2).sum()
            attention.emb_rel_k.copy_(relative_key.expand_as(attention.emb_rel_k))
    return network


def build_voice_model_file(
    path: Path,
    *,
    version: str = "v2",
    sample_rate: int = 40000,
    pitch_guidance: bool = True,
    fp16: bool = False,
    weight_norm: str = "legacy",
    speakers: int = 1,
    seed: int = 0,
    size: str = "tiny",
    metadata: Mapping[str, Any] | None = None,
    local_attention: bool = False,
) -> Path:
    """Write a random-weight voice model in the community layout; returns ``path``.

    ``size`` is "tiny" or "full"; ``weight_norm`` is how the weight-normed layers are
    stored ("legacy" ``weight_g``/``weight_v``, or "parametrizations"); ``metadata``
    adds keys such as ``epoch`` or ``author``. ``local_attention`` builds a model whose
    attention stays within ±10 frames (see :func:`make_attention_local`), for tests that
    compare chunked with unchunked conversion.
    """
    if size not in ("tiny", "full"):
        raise ValueError(f"size must be 'tiny' or 'full', not {size!r}")
    make_config = tiny_config if size == "tiny" else full_size_config
    config = make_config(version, sample_rate)
    config = dataclasses.replace(config, spk_embed_dim=speakers)
    network = random_synthesizer(
        config,
        version=version,
        pitch_guidance=pitch_guidance,
        seed=seed,
        weight_norm=False,
        local_attention=local_attention,
    )
    # Split into g and v here rather than under torch's parametrization (which a
    # full-size model pays for on every call), with v rescaled so that g != ||v||.
    weights = unfold_weight_norm(network.state_dict(), style="legacy")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        for name, tensor in weights.items():
            if name.endswith(".weight_v"):
                weights[name] = tensor * _direction_scales(tensor)
    metadata = dict(metadata or {})
    metadata.setdefault("info", f"urvc random-weight model, seed {seed}")
    return save_voice_model(
        Path(path),
        weights,
        config,
        version,
        pitch_guidance,
        fp16=fp16,
        weight_norm=weight_norm,
        metadata=metadata,
    )
