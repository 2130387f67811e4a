"""Mixing a cover: tracks summed with their gains, at the loudness of the original song.

:func:`mix_tracks` resamples every track to one rate, makes mono tracks stereo (centred),
applies each track's gain in dB, sums them, and then, by default, brings the mix's
integrated loudness (ITU-R BS.1770, measured with pyloudnorm) to a target: the
loudness of the song the cover was made from, so a cover plays as loud as its original.

**Peak safety: a true-peak limiter, not a lower gain.** Songs are mastered loud, and a
cover's mix, with a converted voice less compressed than the original's, often needs
more than its peak headroom to reach the same loudness. Lowering the gain until the
peak fits would leave it several LU quieter than its original; clipping would distort.
So the gain that reaches the target is applied and the mix then goes through a
look-ahead limiter that keeps the *true* peak (the peak between samples, estimated at
4x oversampling as BS.1770 does) at or below ``ceiling_dbtp`` (-1 dBTP by default, the
ceiling streaming services ask for, which also leaves an mp3 encoder room). The
limiter's gain is, for every sample, the minimum over a 40 ms window of the gain each
sample needs, smoothed by a 20 ms moving average: it starts turning down 10 to 20 ms
before a peak and recovers as long after, and it can never let a peak through, since
every value averaged at a peak is at most that peak's own gain. Limiting lowers the
loudness a little; the loudness gain is raised and the limiter run again (at most
four rounds) until the mix is within 0.1 LU of the target or no more loudness can be
had under the ceiling. Silence stays silence.

**No offset or rumble reaches the loudness match.** Every track goes through a 20 Hz
high-pass (4th-order Butterworth, run forward and backward so it shifts no track in
time) before it is summed. A voice model's DC offset or sub-audio drift carries energy
that loudness measurement partly counts and nobody hears; left in, matching the mix to
the song would turn it up until the offset was the loudest part of the cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError

__all__ = [
    "DEFAULT_CEILING_DBTP",
    "DEFAULT_HIGHPASS_HZ",
    "MixResult",
    "Track",
    "integrated_loudness",
    "limit_true_peak",
    "mix_files",
    "mix_tracks",
    "remove_rumble",
    "true_peak_db",
]

#: The default true-peak ceiling, in dBTP.
DEFAULT_CEILING_DBTP = -1.0
#: Every track's high-pass corner, Hz: below hearing, above any offset or drift.
DEFAULT_HIGHPASS_HZ = 20.0
_HIGHPASS_ORDER = 4
_OVERSAMPLING = 4
_LIMITER_WINDOW_SECONDS = 0.040
_LOUDNESS_TOLERANCE_LU = 0.1
_LOUDNESS_ROUNDS = 4
#: Samples per block of true-peak estimation: bounded memory for long songs.
_TRUE_PEAK_BLOCK = 1 << 18
_TRUE_PEAK_MARGIN = 64


@dataclass(frozen=True)
class Track:
    """One track of a mix and its gain in dB."""

    audio: Audio
    gain_db: float = 0.0
    name: str = ""


@dataclass
class MixResult:
    """The mix and how it was levelled."""

    audio: Audio
    #: The loudness of the mix as it was written, in LUFS.
    loudness_lufs: float
    #: The loudness it was brought to (the source song's), or None when not matched.
    target_lufs: float | None
    #: The gain applied to the summed tracks to reach the target, in dB.
    loudness_gain_db: float
    #: The most the limiter turned the mix down anywhere, in dB (0: it did nothing).
    limiter_reduction_db: float
    #: The mix's true peak, in dBTP.
    true_peak_dbtp: float
    path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "sample_rate": self.audio.sample_rate,
            "channels": self.audio.channels,
            "duration": self.audio.duration,
            "loudness_lufs": _rounded(self.loudness_lufs),
            "target_lufs": _rounded(self.target_lufs),
            "loudness_gain_db": _rounded(self.loudness_gain_db),
            "limiter_reduction_db": _rounded(self.limiter_reduction_db),
            "true_peak_dbtp": _rounded(self.true_peak_dbtp),
        }


def _rounded(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 3)


def integrated_loudness(audio: Audio) -> float:
    """Integrated loudness (BS.1770-4) in LUFS; ``-inf`` for silence.

    Clips shorter than BS.1770's 400 ms gating block are measured as one block.
    """
    import pyloudnorm

    if audio.num_samples == 0:
        return -np.inf
    samples = audio.samples
    if audio.channels > 5:  # BS.1770 weighs at most 5 channels; a downmix stands in
        samples = samples.mean(axis=0, keepdims=True)
    meter = pyloudnorm.Meter(audio.sample_rate, block_size=min(0.4, audio.duration))
    return float(meter.integrated_loudness(samples.T.astype(np.float64)))


def _true_peak_envelope(samples: np.ndarray) -> np.ndarray:
    """Per sample, the largest magnitude on any channel at 4x oversampling around it."""
    from scipy.signal import resample_poly

    channels, length = samples.shape
    envelope = np.zeros(length, dtype=np.float32)
    for start in range(0, length, _TRUE_PEAK_BLOCK):
        end = min(length, start + _TRUE_PEAK_BLOCK)
        low = max(0, start - _TRUE_PEAK_MARGIN)
        high = min(length, end + _TRUE_PEAK_MARGIN)
        block = np.ascontiguousarray(samples[:, low:high], dtype=np.float32)
        upsampled = resample_poly(block, _OVERSAMPLING, 1, axis=1)
        # Sample i of the block covers upsampled values [4i, 4i + 4).
        usable = (high - low) * _OVERSAMPLING
        peaks = np.abs(upsampled[:, :usable]).reshape(channels, high - low, _OVERSAMPLING)
        peaks = peaks.max(axis=2).max(axis=0)
        # The sample's own value counts too (resampling filters ring a little low).
        peaks = np.maximum(peaks, np.abs(block).max(axis=0))
        envelope[start:end] = peaks[start - low : start - low + end - start]
    return envelope


def true_peak_db(audio: Audio) -> float:
    """The true peak (4x oversampled) in dBTP; ``-inf`` for silence."""
    if audio.num_samples == 0:
        return -np.inf
    peak = float(_true_peak_envelope(audio.samples).max())
    return 20.0 * float(np.log10(peak)) if peak > 0 else -np.inf


def limit_true_peak(
    audio: Audio, ceiling_dbtp: float = DEFAULT_CEILING_DBTP
) -> tuple[Audio, float]:
    """``audio`` with its true peak held at or below ``ceiling_dbtp``, and the most it
    was turned down (dB). Audio already under the ceiling comes back unchanged."""
    limited, reduction, _ = _limit(audio, ceiling_dbtp)
    return limited, reduction


def _limit(audio: Audio, ceiling_dbtp: float) -> tuple[Audio, float, float]:
    """The limited audio, the most it was turned down (dB), and its true peak (linear)."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    if audio.num_samples == 0:
        return audio, 0.0, 0.0
    # A hair under the ceiling: the envelope is an estimate between the oversampled points.
    ceiling = 10.0 ** (ceiling_dbtp / 20.0) * 0.998
    envelope = _true_peak_envelope(audio.samples)
    peak = float(envelope.max())
    if peak <= ceiling:
        return audio, 0.0, peak
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12)).astype(np.float64)
    del envelope
    window = max(3, int(_LIMITER_WINDOW_SECONDS * audio.sample_rate) | 1)
    held = minimum_filter1d(needed, size=window, mode="nearest")
    smooth = max(1, (window // 2) | 1)
    gain = np.minimum(uniform_filter1d(held, size=smooth, mode="nearest"), needed)
    limited = (audio.samples * gain[np.newaxis, :]).astype(np.float32)
    # The estimate between oversampled points can be a hair low; one uniform trim
    # makes the promise hold on the measured true peak.
    peak = float(_true_peak_envelope(limited).max())
    if peak > ceiling:
        limited *= np.float32(ceiling / peak)
        peak = ceiling
    reduction = -20.0 * float(np.log10(max(float(gain.min()), 1e-12)))
    return Audio(limited, audio.sample_rate), reduction, peak


def remove_rumble(audio: Audio, cutoff_hz: float = DEFAULT_HIGHPASS_HZ) -> Audio:
    """``audio`` without its DC offset and what lies below ``cutoff_hz`` (zero phase)."""
    from scipy.signal import butter, sosfiltfilt

    if audio.num_samples == 0:
        return audio
    sections = butter(_HIGHPASS_ORDER, cutoff_hz, "highpass", fs=audio.sample_rate, output="sos")
    # sosfiltfilt pads with the signal's odd extension, which needs a few samples more
    # than the filter's length; a shorter track is too short to carry any rumble.
    if audio.num_samples <= 3 * (2 * len(sections) + 1):
        return Audio(audio.samples - audio.samples.mean(axis=1, keepdims=True), audio.sample_rate)
    filtered = sosfiltfilt(sections, audio.samples.astype(np.float64), axis=1)
    return Audio(filtered.astype(np.float32), audio.sample_rate)


def _fit(audio: Audio, sample_rate: int, channels: int, length: int) -> np.ndarray:
    from urvc_core.audio import convert_channels, resample

    if audio.sample_rate != sample_rate:
        audio = resample(audio, sample_rate)
    if audio.channels != channels:
        audio = convert_channels(audio, channels)
    samples = audio.samples
    if samples.shape[1] >= length:
        return samples[:, :length]
    return np.pad(samples, ((0, 0), (0, length - samples.shape[1])))


def mix_tracks(
    tracks: Sequence[Track],
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    length: int | None = None,
    match_loudness: Audio | float | None = None,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
    highpass_hz: float | None = DEFAULT_HIGHPASS_HZ,
    output: str | Path | None = None,
    output_format: str | None = None,
) -> MixResult:
    """High-pass each track, sum them with their gains, level the result, and
    optionally save it.

    Args:
        tracks: the tracks; any rates and channel counts.
        sample_rate: the mix's rate; default the config's ``output_sample_rate``.
        channels: 1 or 2; default 2 when any track is stereo, else 1.
        length: samples at ``sample_rate``; default the longest track. Longer tracks are
            cut there (a reverb tail past the song's end), shorter ones padded.
        match_loudness: a reference (:class:`Audio`, typically the original song) whose
            integrated loudness the mix is brought to, or a target in LUFS; None keeps
            the summed level.
        ceiling_dbtp: the true-peak ceiling the limiter keeps the mix under.
        highpass_hz: every track's high-pass corner (see :func:`remove_rumble`); None
            leaves the tracks as they are.
        output: a file to write (wav, flac, ogg, mp3), atomically.
        output_format: the file's format if its suffix doesn't say it.

    Raises:
        UrvcError: no tracks, a bad channel count, an unwritable output.
    """
    from urvc_core.audio import save_audio, write_format_for
    from urvc_core.home import load_config

    if not tracks:
        raise UrvcError("Nothing to mix: give at least one track.")
    if output is not None:
        if output_format is not None:
            output = Path(output).with_suffix(f".{write_format_for(output, output_format)}")
        write_format_for(output)
    if sample_rate is None:
        sample_rate = int(load_config()["output_sample_rate"])
    if channels is None:
        channels = 2 if any(track.audio.channels > 1 for track in tracks) else 1
    if channels not in (1, 2):
        raise UrvcError(f"A mix has 1 or 2 channels, not {channels}.")
    if length is None:
        length = max(round(t.audio.num_samples * sample_rate / t.audio.sample_rate) for t in tracks)
    mixed = np.zeros((channels, length), dtype=np.float32)
    for track in tracks:
        gain = np.float32(10.0 ** (track.gain_db / 20.0))
        audio = track.audio if highpass_hz is None else remove_rumble(track.audio, highpass_hz)
        mixed += _fit(audio, sample_rate, channels, length) * gain
    summed = Audio(mixed, sample_rate)

    target: float | None
    if match_loudness is None:
        target = None
    elif isinstance(match_loudness, Audio):
        target = integrated_loudness(match_loudness)
    else:
        target = float(match_loudness)
    if target is not None and not np.isfinite(target):
        target = None  # a silent reference has no loudness to match

    levelled = _level(summed, target, ceiling_dbtp)
    written = None
    if output is not None:
        written = save_audio(levelled.audio, output)
    return MixResult(
        audio=levelled.audio,
        loudness_lufs=levelled.loudness,
        target_lufs=target,
        loudness_gain_db=levelled.gain_db,
        limiter_reduction_db=levelled.reduction_db,
        true_peak_dbtp=20.0 * float(np.log10(levelled.peak)) if levelled.peak > 0 else -np.inf,
        path=written,
    )


@dataclass
class _Levelled:
    audio: Audio
    gain_db: float
    reduction_db: float
    #: True peak, linear.
    peak: float
    #: Integrated loudness, LUFS.
    loudness: float


def _level(summed: Audio, target: float | None, ceiling_dbtp: float) -> _Levelled:
    """The summed mix brought to ``target`` LUFS under the true-peak ceiling."""
    current = integrated_loudness(summed)
    if target is None or not np.isfinite(current):
        limited, reduction, peak = _limit(summed, ceiling_dbtp)
        loudness = integrated_loudness(limited) if reduction > 0 else current
        return _Levelled(limited, 0.0, reduction, peak, loudness)
    gain_db = target - current
    limited, reduction, peak = _limit(_gained(summed, gain_db), ceiling_dbtp)
    # A plain gain moves the loudness by exactly itself; only limiting needs measuring.
    loudness = integrated_loudness(limited) if reduction > 0 else target
    for _ in range(_LOUDNESS_ROUNDS - 1):
        shortfall = target - loudness
        if abs(shortfall) <= _LOUDNESS_TOLERANCE_LU:
            break
        attempt, attempt_reduction, attempt_peak = _limit(
            _gained(summed, gain_db + shortfall), ceiling_dbtp
        )
        attempt_loudness = integrated_loudness(attempt)
        if attempt_loudness <= loudness + 0.01:
            break  # the limiter gives back what the gain adds: no more loudness to have
        gain_db += shortfall
        limited, reduction, peak, loudness = (
            attempt,
            attempt_reduction,
            attempt_peak,
            attempt_loudness,
        )
    return _Levelled(limited, gain_db, reduction, peak, loudness)


def _gained(audio: Audio, gain_db: float) -> Audio:
    return Audio(audio.samples * np.float32(10.0 ** (gain_db / 20.0)), audio.sample_rate)


def mix_files(
    inputs: Sequence[str | Path],
    output: str | Path,
    *,
    gains_db: Sequence[float] = (),
    match_loudness_of: str | Path | None = None,
    target_lufs: float | None = None,
    sample_rate: int | None = None,
    output_format: str | None = None,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
) -> MixResult:
    """Mix audio files into ``output``: what ``urvc mix`` does.

    ``gains_db`` gives one gain per input (or none: all 0 dB). The loudness is matched
    to the file ``match_loudness_of``, or brought to ``target_lufs``, or left alone.
    """
    from urvc_core.audio import check_output_is_not_an_input, load_audio, write_format_for

    if not inputs:
        raise UrvcError("Nothing to mix: give at least one audio file.")
    if gains_db and len(gains_db) != len(inputs):
        raise UrvcError(
            f"{len(inputs)} track(s) but {len(gains_db)} gain(s); give one --gain per track, "
            f"in the same order, or none."
        )
    if match_loudness_of is not None and target_lufs is not None:
        raise UrvcError("Give a reference song or a target loudness, not both.")
    destination = Path(output)
    if output_format is not None:
        destination = destination.with_suffix(f".{write_format_for(destination, output_format)}")
    write_format_for(destination)
    check_output_is_not_an_input(destination, [*inputs, match_loudness_of])
    gains = list(gains_db) or [0.0] * len(inputs)
    tracks = [
        Track(load_audio(path), gain, Path(path).name)
        for path, gain in zip(inputs, gains, strict=True)
    ]
    reference: Audio | float | None = target_lufs
    if match_loudness_of is not None:
        reference = load_audio(match_loudness_of)
    return mix_tracks(
        tracks,
        sample_rate=sample_rate,
        match_loudness=reference,
        ceiling_dbtp=ceiling_dbtp,
        output=destination,
    )
