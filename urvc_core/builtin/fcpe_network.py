"""FCPE, the fast context-based pitch estimator, as torchfcpe ships it (``fcpe_c_v001.pt``).

FCPE (CNChTu, 2023) reads a 128-band log-mel spectrogram of 16 kHz audio, one frame
every 160 samples (10 ms), and gives for each frame the probability of each of 360
pitch bins spread evenly in cents from 32.70 Hz to 1975.5 Hz. The network
(torchfcpe's ``CFNaiveMelPE``) is an input stack of two convolutions, six conformer
blocks and a dense layer with a sigmoid. The bundled model is the ``conv_only``
variant: its blocks have no attention, only the conformer convolution module (layer
norm, pointwise convolution with a GLU, a 31-tap depthwise convolution, SiLU,
pointwise convolution) added back to its input.

The checkpoint stores its configuration (``config_dict``) beside its weights
(``model``); :func:`load_fcpe` builds the network from that configuration and loads the
weights with ``strict=True``, under torchfcpe's names and shapes. The mel front-end is
re-implemented here on ``torch.stft`` with a mel filterbank built in numpy
(:func:`mel_filterbank`, Slaney's mel scale and area normalisation, as
``librosa.filters.mel`` makes it), so neither torchaudio nor librosa is needed.

Turning a recording into a pitch track on the :class:`~urvc_core.backends.F0Extractor`
grid is done by the ``fcpe`` backend in :mod:`urvc_core.builtin.neural_f0`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from urvc_core.errors import UrvcError
from urvc_core.rvc.checkpoints import load_checkpoint

#: Cents are counted from 10 Hz, as torchfcpe (and CREPE) do.
CENTS_REFERENCE_HZ = 10.0
#: Bins either side of the most probable one that local-argmax decoding averages over.
LOCAL_AVERAGE_RADIUS = 4
#: The floor torchfcpe puts under mel magnitudes before the logarithm.
_LOG_FLOOR = 1e-5
#: Frames the six 31-tap depthwise convolutions can see either side (6 x 15 = 90),
#: rounded up: the context each chunk of a long recording is given.
_ENCODER_CONTEXT_FRAMES = 96


@dataclass(frozen=True)
class MelSettings:
    """The mel front-end a checkpoint was trained with (its ``config_dict["mel"]``)."""

    sample_rate: int = 16000
    mel_bands: int = 128
    fft_size: int = 1024
    window_length: int = 1024
    hop_length: int = 160
    f_min: float = 0.0
    f_max: float = 8000.0


@dataclass(frozen=True)
class NetworkSettings:
    """The network a checkpoint was trained with (its ``config_dict["model"]``)."""

    pitch_bins: int = 360
    hidden_channels: int = 512
    layers: int = 6
    f0_min: float = 32.70
    f0_max: float = 1975.5


def mel_filterbank(
    sample_rate: int, fft_size: int, mel_bands: int, f_min: float, f_max: float
) -> np.ndarray:
    """Triangular mel filters ``(mel_bands, fft_size // 2 + 1)`` on Slaney's mel scale.

    Slaney's scale is linear below 1 kHz and logarithmic above; each triangle is
    normalised to unit area (``norm="slaney"``). These are librosa's defaults, which is
    what torchfcpe's mel front-end uses, computed in float64 and returned as float32.
    """
    fft_frequencies = np.linspace(0.0, sample_rate / 2.0, fft_size // 2 + 1)
    mel_edges = np.linspace(_hz_to_slaney_mel(f_min), _hz_to_slaney_mel(f_max), mel_bands + 2)
    edge_hz = _slaney_mel_to_hz(mel_edges)
    widths = np.diff(edge_hz)
    # Distance from each filter edge to each FFT bin, positive below the edge.
    ramps = edge_hz[:, None] - fft_frequencies[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= (2.0 / (edge_hz[2:] - edge_hz[:-2]))[:, None]
    return filters.astype(np.float32)


# Slaney's mel scale: 3 mels per 200 Hz up to 1 kHz, then 27 mels per factor of 6.4.
_LINEAR_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _LINEAR_HZ_PER_MEL
_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_slaney_mel(hz: float) -> float:
    if hz < _BREAK_HZ:
        return hz / _LINEAR_HZ_PER_MEL
    return _BREAK_MEL + math.log(hz / _BREAK_HZ) / _LOG_STEP


def _slaney_mel_to_hz(mels: np.ndarray) -> np.ndarray:
    linear = _LINEAR_HZ_PER_MEL * mels
    logarithmic = _BREAK_HZ * np.exp(_LOG_STEP * (mels - _BREAK_MEL))
    return np.where(mels >= _BREAK_MEL, logarithmic, linear)


class LogMelSpectrogram(nn.Module):
    """torchfcpe's mel front-end: natural-log mel magnitudes, one frame per hop.

    Frame ``i`` is taken from the window starting ``(window - hop) // 2`` samples before
    sample ``i * hop``, after the signal is reflect-padded by that much on the left (and
    enough on the right); there are ``len // hop + 1`` frames, the last repeated if the
    padding leaves one short. That is torchfcpe's framing, kept exactly because the
    network was trained on it and its users read frame ``i`` as time ``i * hop``.
    """

    filters: torch.Tensor
    window: torch.Tensor

    def __init__(self, settings: MelSettings) -> None:
        super().__init__()
        self.settings = settings
        filters = mel_filterbank(
            settings.sample_rate,
            settings.fft_size,
            settings.mel_bands,
            settings.f_min,
            settings.f_max,
        )
        self.register_buffer("filters", torch.from_numpy(filters), persistent=False)
        self.register_buffer("window", torch.hann_window(settings.window_length), persistent=False)

    def frame_count(self, length: int) -> int:
        """Frames of a recording of ``length`` samples: one per hop, and one more."""
        return length // self.settings.hop_length + 1

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """``(frames, mel_bands)`` log-mel of 1-D audio at the settings' sample rate."""
        return self.frames(samples, 0, self.frame_count(samples.shape[-1]))

    def frames(self, samples: torch.Tensor, first: int, stop: int) -> torch.Tensor:
        """Frames ``[first, stop)`` of the log-mel of 1-D ``samples``, the same numbers as
        those frames of :meth:`forward`'s answer: only the samples they read are padded
        and transformed, so a long recording can be taken a stretch at a time."""
        settings = self.settings
        length = samples.shape[-1]
        window, hop = settings.window_length, settings.hop_length
        pad_left = (window - hop) // 2
        pad_right = max((window - hop + 1) // 2, window - length - pad_left)
        # Reflection needs more samples than it reflects; very short clips get zeros.
        reflect = pad_right < length and pad_left < length
        # The STFT yields this many frames; later ones repeat its last (see the class).
        transformed = (length + pad_left + pad_right - window) // hop + 1
        last = min(stop, transformed)
        # At least the STFT's last frame is computed, so that it can be repeated.
        begin = min(first, last - 1)
        positions = torch.arange(
            begin * hop - pad_left, (last - 1) * hop + window - pad_left, device=samples.device
        )
        if reflect:
            positions = positions.abs()
            positions = torch.where(positions >= length, 2 * (length - 1) - positions, positions)
            stretch = samples[positions]
        else:
            inside = (positions >= 0) & (positions < length)
            stretch = torch.where(inside, samples[positions.clamp(0, length - 1)], 0.0)
        spectrum = torch.stft(
            stretch,
            settings.fft_size,
            hop_length=hop,
            win_length=window,
            window=self.window,
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        # The small constant keeps the square root's gradient finite; torchfcpe has it.
        magnitude = torch.sqrt(spectrum.real.pow(2) + spectrum.imag.pow(2) + 1e-9)
        computed = torch.log(torch.clamp(self.filters @ magnitude, min=_LOG_FLOOR)).T
        log_mel = computed[first - begin :]
        repeats = stop - max(first, last)
        if repeats > 0:
            log_mel = torch.cat([log_mel, computed[-1:].expand(repeats, -1)])
        return log_mel


class _SwapTimeAndChannels(nn.Module):
    """``(batch, time, channels)`` to ``(batch, channels, time)`` and back."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden.transpose(1, 2)


class _DepthwiseConvolution(nn.Module):
    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            channels, channels, kernel_size, padding=kernel_size // 2, groups=channels
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.conv(hidden)


class _ConformerConvolution(nn.Module):
    """The conformer convolution module; ``net`` indices are the checkpoint's names."""

    def __init__(self, channels: int, expansion: int = 2, kernel_size: int = 31) -> None:
        super().__init__()
        inner = channels * expansion
        self.net = nn.Sequential(
            nn.LayerNorm(channels),
            _SwapTimeAndChannels(),
            nn.Conv1d(channels, inner * 2, 1),
            nn.GLU(dim=1),
            _DepthwiseConvolution(inner, kernel_size),
            nn.SiLU(),
            nn.Conv1d(inner, channels, 1),
            _SwapTimeAndChannels(),
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net(hidden)


class _EncoderLayer(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conformer = _ConformerConvolution(channels)
        # The attention's input norm. The conv-only model never attends, but its
        # checkpoint carries this norm's weights, so it is declared to load them.
        self.norm = nn.LayerNorm(channels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.conformer(hidden)


class _Encoder(nn.Module):
    def __init__(self, layers: int, channels: int) -> None:
        super().__init__()
        self.encoder_layers = nn.ModuleList(_EncoderLayer(channels) for _ in range(layers))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder_layers:
            hidden = layer(hidden)
        return hidden


class _WeightNormalisedLinear(nn.Module):
    """A dense layer stored as direction ``weight_v`` and per-row length ``weight_g``.

    That is how ``torch.nn.utils.weight_norm`` saved it when the checkpoint was made;
    the weight is ``weight_g * weight_v / |weight_v|`` with the norm taken per row.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(out_features, 1))
        self.weight_v = nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True)
        return F.linear(hidden, weight, self.bias)


class FcpeNetwork(nn.Module):
    """torchfcpe's ``CFNaiveMelPE`` in its conv-only form, with the checkpoint's names."""

    cent_table: torch.Tensor
    gaussian_blurred_cent_mask: torch.Tensor

    def __init__(self, mel_bands: int, settings: NetworkSettings) -> None:
        super().__init__()
        hidden = settings.hidden_channels
        self.settings = settings
        self.input_stack = nn.Sequential(
            nn.Conv1d(mel_bands, hidden, 3, 1, 1),
            nn.GroupNorm(4, hidden),
            nn.LeakyReLU(),
            nn.Conv1d(hidden, hidden, 3, 1, 1),
        )
        self.net = _Encoder(settings.layers, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.output_proj = _WeightNormalisedLinear(hidden, settings.pitch_bins)
        # The pitch of each bin in cents above 10 Hz, and the top of the training range;
        # both are saved in the checkpoint, and decoding uses the saved cents.
        bin_cents = torch.linspace(
            _hz_to_cents(settings.f0_min), _hz_to_cents(settings.f0_max), settings.pitch_bins
        )
        self.register_buffer("cent_table", bin_cents)
        self.register_buffer(
            "gaussian_blurred_cent_mask", torch.tensor(_hz_to_cents(settings.f0_max))
        )
        self.eval()

    def forward(self, log_mel: torch.Tensor, max_frames: int = 2048) -> torch.Tensor:
        """Pitch-bin probabilities ``(frames, bins)`` of a log-mel ``(frames, mel_bands)``."""
        pieces = [
            probabilities
            for _, probabilities in self.segments(
                lambda first, stop: log_mel[first:stop], log_mel.shape[0], max_frames
            )
        ]
        return torch.cat(pieces) if pieces else log_mel.new_zeros(0, self.settings.pitch_bins)

    def segments(
        self,
        log_mel_frames: Callable[[int, int], torch.Tensor],
        frame_count: int,
        max_frames: int = 2048,
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """``(first frame, probabilities)`` for ``frame_count`` frames, ``max_frames`` at a time.

        ``log_mel_frames(first, stop)`` gives frames ``[first, stop)`` of the log-mel, so
        neither the log-mel nor the network's activations of a long recording are ever
        held whole: memory stays flat in the recording's length. The encoder looks 90
        frames either way, so each segment gets that much context. The input stack's
        group norm takes its statistics over all frames: a recording longer than one
        segment is read twice, once to gather them and once to normalise with them.
        """
        if frame_count <= max_frames:
            hidden = self.input_stack(log_mel_frames(0, frame_count).T[None])
            yield 0, self._probabilities(self.net(hidden.transpose(1, 2)))
            return
        first_convolution, group_norm, activation, last_convolution = self.input_stack
        assert isinstance(group_norm, nn.GroupNorm)

        def first_convolved(first: int, stop: int) -> torch.Tensor:
            # One more frame each side, so the 3-tap convolution's edges are real ones.
            low, high = max(0, first - 1), min(frame_count, stop + 1)
            convolved = first_convolution(log_mel_frames(low, high).T[None])
            return convolved[:, :, first - low : stop - low]

        groups = group_norm.num_groups
        sums = torch.zeros(groups, dtype=torch.float64)
        squares = torch.zeros(groups, dtype=torch.float64)
        for first in range(0, frame_count, max_frames):
            convolved = first_convolved(first, min(frame_count, first + max_frames))
            grouped = convolved.reshape(groups, -1).to(device="cpu", dtype=torch.float64)
            sums += grouped.sum(dim=1)
            squares += grouped.square().sum(dim=1)
        values_per_group = frame_count * self.settings.hidden_channels // groups
        mean = sums / values_per_group
        inverse_deviation = torch.rsqrt(squares / values_per_group - mean.square() + group_norm.eps)
        scale = group_norm.weight.reshape(groups, -1) * inverse_deviation.to(
            group_norm.weight
        ).reshape(groups, 1)
        shift = group_norm.bias.reshape(groups, -1) - mean.to(scale).reshape(groups, 1) * scale

        for first in range(0, frame_count, max_frames):
            stop = min(frame_count, first + max_frames)
            hidden_first = max(0, first - _ENCODER_CONTEXT_FRAMES)
            hidden_stop = min(frame_count, stop + _ENCODER_CONTEXT_FRAMES)
            # The last convolution reads one frame either side too.
            low, high = max(0, hidden_first - 1), min(frame_count, hidden_stop + 1)
            convolved = first_convolved(low, high)
            normalised = convolved * scale.reshape(1, -1, 1) + shift.reshape(1, -1, 1)
            hidden = last_convolution(activation(normalised))
            hidden = hidden[:, :, hidden_first - low : hidden_stop - low]
            encoded = self.net(hidden.transpose(1, 2))
            yield first, self._probabilities(encoded[:, first - hidden_first : stop - hidden_first])

    def _probabilities(self, encoded: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.output_proj(self.norm(encoded)))[0]


def _hz_to_cents(f0_hz: float) -> float:
    return 1200.0 * math.log2(f0_hz / CENTS_REFERENCE_HZ)


@dataclass
class FcpeModel:
    """A loaded FCPE checkpoint: its mel front-end and its network."""

    mel: LogMelSpectrogram
    network: FcpeNetwork

    @property
    def sample_rate(self) -> int:
        return self.mel.settings.sample_rate

    @property
    def hop_length(self) -> int:
        return self.mel.settings.hop_length

    def to(self, device: torch.device | str) -> FcpeModel:
        self.mel.to(device)
        self.network.to(device)
        return self


def load_fcpe(weights: Path) -> FcpeModel:
    """The FCPE model of a torchfcpe checkpoint, built from its own configuration."""
    checkpoint = load_checkpoint(Path(weights), what="FCPE weights file")
    if not (
        isinstance(checkpoint, Mapping)
        and isinstance(checkpoint.get("config_dict"), Mapping)
        and isinstance(checkpoint.get("model"), Mapping)
    ):
        raise UrvcError(
            f"The FCPE weights file {weights} is not a torchfcpe checkpoint (it has no "
            f"'config_dict' and 'model'); download fcpe_c_v001.pt again."
        )
    config: Mapping[str, Any] = checkpoint["config_dict"]
    mel_config: Mapping[str, Any] = config.get("mel") or {}
    model_config: Mapping[str, Any] = config.get("model") or {}
    unsupported = []
    if model_config.get("type") != "CFNaiveMelPE":
        unsupported.append(f"model type {model_config.get('type')!r}")
    if not model_config.get("conv_only", False):
        unsupported.append("attention layers (conv_only is false)")
    if model_config.get("use_harmonic_emb", False):
        unsupported.append("harmonic embeddings")
    if str(mel_config.get("type", "default")).lower() not in {"default", "none"}:
        unsupported.append(f"mel type {mel_config.get('type')!r}")
    if unsupported:
        raise UrvcError(
            f"The FCPE weights file {weights} needs {', '.join(unsupported)}, which urvc's "
            f"FCPE does not implement; use torchfcpe's bundled fcpe_c_v001.pt."
        )
    mel_settings = MelSettings(
        sample_rate=int(mel_config.get("sr", 16000)),
        mel_bands=int(mel_config.get("num_mels", 128)),
        fft_size=int(mel_config.get("n_fft", 1024)),
        window_length=int(mel_config.get("win_size", 1024)),
        hop_length=int(mel_config.get("hop_size", 160)),
        f_min=float(mel_config.get("fmin") or 0.0),
        f_max=float(mel_config.get("fmax") or 8000.0),
    )
    network_settings = NetworkSettings(
        pitch_bins=int(model_config["out_dims"]),
        hidden_channels=int(model_config["hidden_dims"]),
        layers=int(model_config["n_layers"]),
        f0_min=float(model_config["f0_min"]),
        f0_max=float(model_config["f0_max"]),
    )
    network = FcpeNetwork(mel_settings.mel_bands, network_settings)
    try:
        network.load_state_dict(dict(checkpoint["model"]), strict=True)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        first_problem = lines[1].strip() if len(lines) > 1 else str(exc)
        raise UrvcError(
            f"The FCPE weights file {weights} does not fit the network its own "
            f"configuration describes ({first_problem}); download it again."
        ) from exc
    return FcpeModel(LogMelSpectrogram(mel_settings), network.eval())


@dataclass(frozen=True)
class FcpeEstimate:
    """FCPE's pitch (cents above 10 Hz) and confidence (the top bin's probability) per frame."""

    cents: np.ndarray
    confidence: np.ndarray


def decode_local_argmax(
    probabilities: torch.Tensor, bin_cents: torch.Tensor, f0_min: float, f0_max: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cents and confidence of each frame of ``probabilities`` ``(frames, bins)``.

    torchfcpe's ``local_argmax``: the probability-weighted average of the bin centres
    within four bins of the most probable bin. Bins outside ``[f0_min, f0_max]`` are
    left out before the most probable bin is chosen, so the answer always lies in the
    asked-for range (torchfcpe clamps afterwards instead).
    """
    wanted = (bin_cents >= _hz_to_cents(f0_min) - 1e-3) & (bin_cents <= _hz_to_cents(f0_max) + 1e-3)
    if not bool(wanted.any()):
        # A range narrower than one bin: keep the bin nearest its middle.
        middle = (_hz_to_cents(f0_min) + _hz_to_cents(f0_max)) / 2
        wanted = torch.zeros_like(wanted)
        wanted[int(torch.argmin((bin_cents - middle).abs()))] = True
    in_range = probabilities * wanted
    confidence, peak = in_range.max(dim=1)
    offsets = torch.arange(-LOCAL_AVERAGE_RADIUS, LOCAL_AVERAGE_RADIUS + 1, device=peak.device)
    neighbours = peak[:, None] + offsets[None, :]
    usable = (neighbours >= 0) & (neighbours < len(bin_cents))
    neighbours = neighbours.clamp(0, len(bin_cents) - 1)
    usable &= wanted[neighbours]
    weights = in_range.gather(1, neighbours) * usable
    total = weights.sum(dim=1)
    cents = torch.where(
        total > 0,
        (weights * bin_cents[neighbours]).sum(dim=1) / total.clamp_min(1e-12),
        bin_cents[peak],
    )
    return cents, confidence


def estimate_pitch(
    model: FcpeModel,
    samples: np.ndarray,
    *,
    f0_min: float,
    f0_max: float,
    device: torch.device | str = "cpu",
    max_frames: int = 2048,
) -> FcpeEstimate:
    """FCPE's pitch and confidence for 1-D audio at the model's sample rate (16 kHz).

    One value per ``model.hop_length`` samples, ``len // hop + 1`` of them, value ``i``
    for time ``i * hop``.
    """
    cents: list[np.ndarray] = []
    confidence: list[np.ndarray] = []
    with torch.inference_mode():
        audio = torch.as_tensor(np.asarray(samples, dtype=np.float32), device=device)
        bin_cents = model.network.cent_table.float()
        for _, probabilities in model.network.segments(
            lambda first, stop: model.mel.frames(audio, first, stop),
            model.mel.frame_count(len(audio)),
            max_frames,
        ):
            segment_cents, segment_confidence = decode_local_argmax(
                probabilities.float(), bin_cents, f0_min, f0_max
            )
            cents.append(segment_cents.cpu().numpy().astype(np.float64))
            confidence.append(segment_confidence.cpu().numpy().astype(np.float64))
    return FcpeEstimate(np.concatenate(cents), np.concatenate(confidence))
