"""Test signals with known properties, and the measurements the conformance suites make.

The generators make audio whose truth is known by construction (a tone's pitch, a
sweep's pitch at every sample, silence), plus one real recording: a CMU ARCTIC sentence
shipped beside this module. The measurement helpers turn a backend's output into the
numbers the suites assert on: cents, voicing agreement, dB, SDR, LUFS.

Only numpy, soundfile, soxr, pyloudnorm and praat-parselmouth are used, all core
dependencies of urvc.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from urvc_core.backends import Audio

#: CMU ARCTIC sentence a0007 read by a male speaker: 16 kHz mono, 4 s. See
#: arctic_a0007.COPYING beside it for its licence.
SPEECH_FILE = Path(__file__).parent / "data" / "arctic_a0007.wav"


def speech(sample_rate: int = 16000) -> Audio:
    """The ARCTIC sentence as mono Audio, resampled (soxr) when another rate is asked for."""
    import soundfile

    samples, file_rate = soundfile.read(SPEECH_FILE, dtype="float32", always_2d=True)
    mono = samples.T[:1]
    if sample_rate != file_rate:
        mono = resample(mono, file_rate, sample_rate)
    return Audio(mono, sample_rate)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``(channels, samples)`` float32 resampled with soxr's high-quality filter."""
    import soxr

    if from_rate == to_rate:
        return np.asarray(samples, dtype=np.float32)
    resampled = soxr.resample(np.asarray(samples, dtype=np.float32).T, from_rate, to_rate)
    return np.ascontiguousarray(np.asarray(resampled, dtype=np.float32).reshape(-1, len(samples)).T)


@dataclass(frozen=True)
class PitchedSignal:
    """A harmonic signal together with the pitch it was made from, one value per sample."""

    audio: Audio
    f0_hz: np.ndarray

    def f0_at_frames(self, hop_length: int) -> np.ndarray:
        """The true pitch on an F0 extractor's frame grid: frame ``i`` at sample ``i * hop``."""
        frame_count = self.audio.num_samples // hop_length + 1
        positions = np.minimum(np.arange(frame_count) * hop_length, len(self.f0_hz) - 1)
        return self.f0_hz[positions].astype(np.float32)


def harmonic_from_contour(
    f0_hz: np.ndarray, sample_rate: int, *, harmonics: int = 10, amplitude: float = 0.5
) -> Audio:
    """A voice-like harmonic signal following a per-sample pitch contour.

    Harmonic ``k`` has amplitude ``1/k`` (a sawtooth-like spectrum, as a glottal source
    has), and harmonics above Nyquist are left out so that nothing aliases. The peak is
    scaled to ``amplitude``.
    """
    contour = np.asarray(f0_hz, dtype=np.float64)
    phase = 2.0 * np.pi * np.cumsum(contour) / sample_rate
    signal = np.zeros_like(contour)
    for k in range(1, harmonics + 1):
        below_nyquist = k * contour < sample_rate / 2
        signal += np.where(below_nyquist, np.sin(k * phase) / k, 0.0)
    peak = np.max(np.abs(signal)) if len(signal) else 0.0
    if peak > 0:
        signal *= amplitude / peak
    return Audio(signal.astype(np.float32), sample_rate)


def harmonic_tone(
    f0_hz: float,
    duration: float = 1.0,
    sample_rate: int = 16000,
    *,
    harmonics: int = 10,
    amplitude: float = 0.5,
) -> Audio:
    """A steady harmonic tone at ``f0_hz`` (mono)."""
    contour = np.full(round(duration * sample_rate), float(f0_hz))
    return harmonic_from_contour(contour, sample_rate, harmonics=harmonics, amplitude=amplitude)


def sweep(
    start_hz: float,
    end_hz: float,
    duration: float = 2.0,
    sample_rate: int = 16000,
    *,
    harmonics: int = 10,
    amplitude: float = 0.5,
) -> PitchedSignal:
    """A harmonic glide from ``start_hz`` to ``end_hz``, at an even rate in log-frequency."""
    count = round(duration * sample_rate)
    contour = start_hz * (end_hz / start_hz) ** (np.arange(count) / max(count - 1, 1))
    audio = harmonic_from_contour(contour, sample_rate, harmonics=harmonics, amplitude=amplitude)
    return PitchedSignal(audio, contour)


def vibrato(
    center_hz: float,
    depth_cents: float = 50.0,
    rate_hz: float = 5.5,
    duration: float = 2.0,
    sample_rate: int = 16000,
    *,
    harmonics: int = 10,
    amplitude: float = 0.5,
) -> PitchedSignal:
    """A sung-like tone whose pitch swings ``depth_cents`` either side of ``center_hz``."""
    count = round(duration * sample_rate)
    seconds = np.arange(count) / sample_rate
    contour = center_hz * 2.0 ** (depth_cents / 1200.0 * np.sin(2.0 * np.pi * rate_hz * seconds))
    audio = harmonic_from_contour(contour, sample_rate, harmonics=harmonics, amplitude=amplitude)
    return PitchedSignal(audio, contour)


def silence(duration: float = 1.0, sample_rate: int = 16000, channels: int = 1) -> Audio:
    """Digital silence."""
    return Audio(np.zeros((channels, round(duration * sample_rate)), np.float32), sample_rate)


def white_noise(
    duration: float = 1.0,
    sample_rate: int = 16000,
    channels: int = 1,
    *,
    level_db: float = -20.0,
    seed: int = 0,
) -> Audio:
    """Gaussian white noise at an RMS of ``level_db`` dBFS, independent on each channel."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((channels, round(duration * sample_rate)))
    noise *= 10.0 ** (level_db / 20.0)
    return Audio(np.clip(noise, -1.0, 1.0).astype(np.float32), sample_rate)


def plucked_notes(
    notes_hz: list[float],
    onsets: list[float],
    duration: float,
    sample_rate: int,
    *,
    decay_per_second: float = 3.0,
    seed: int = 0,
) -> Audio:
    """Guitar-like notes: each starts at its onset (seconds) and dies away exponentially.

    Each note has 12 harmonics with random starting phases (from ``seed``), so two calls
    with different seeds give different waveforms even for the same notes.
    """
    rng = np.random.default_rng(seed)
    count = round(duration * sample_rate)
    signal = np.zeros(count)
    for f0, onset in zip(notes_hz, onsets, strict=True):
        start = min(count, max(0, round(onset * sample_rate)))
        age = np.arange(count - start) / sample_rate
        note = np.zeros_like(age)
        for k in range(1, 13):
            if k * f0 < sample_rate / 2:
                note += np.sin(2.0 * np.pi * k * f0 * age + rng.uniform(0.0, 2.0 * np.pi)) / k**1.2
        signal[start:] += note * np.exp(-decay_per_second * age)
    return Audio(signal.astype(np.float32), sample_rate)


@dataclass(frozen=True)
class StereoMix:
    """A stereo mixture and the true parts it was summed from (each shaped like it)."""

    mixture: Audio
    vocals: Audio
    accompaniment: Audio


def centre_panned_speech_mix(
    sample_rate: int = 44100, *, accompaniment_db: float = 0.0, seed: int = 0
) -> StereoMix:
    """See :func:`_centre_panned_speech_mix`; cached, since suites ask for it many times.

    Each call returns fresh copies, so a test may change the arrays it gets.
    """
    cached = _centre_panned_speech_mix(sample_rate, accompaniment_db=accompaniment_db, seed=seed)
    return copy.deepcopy(cached)


@functools.lru_cache(maxsize=8)
def _centre_panned_speech_mix(
    sample_rate: int = 44100, *, accompaniment_db: float = 0.0, seed: int = 0
) -> StereoMix:
    """The ARCTIC sentence panned centre over an accompaniment that differs left and right.

    The accompaniment is what a centre-channel separator can in principle remove: plucked
    chords panned hard left and hard right (different notes on each side, off each
    other's beat) plus independent noise in each channel, like a wide stereo guitar
    pair with room noise. Each channel's accompaniment has ``accompaniment_db`` dB the
    RMS of the speech, so the mixture's own SDR against the vocals is
    ``-accompaniment_db``.
    """
    voice = speech(sample_rate).samples[0]
    duration = len(voice) / sample_rate
    onsets = [0.5 * i for i in range(8)]
    left = plucked_notes(
        [261.6, 329.6, 392.0, 523.3, 261.6, 329.6, 392.0, 523.3, 130.8, 98.0],
        [*onsets, 0.0, 2.0],
        duration,
        sample_rate,
        seed=seed + 1,
    ).samples[0]
    right = plucked_notes(
        [220.0, 277.2, 329.6, 440.0, 196.0, 246.9, 293.7, 392.0, 110.0, 146.8],
        [*(t + 0.25 for t in onsets), 1.0, 3.0],
        duration,
        sample_rate,
        seed=seed + 2,
    ).samples[0]
    rng = np.random.default_rng(seed + 3)
    sides = np.stack([left, right]).astype(np.float64)
    sides += 0.3 * sides.std(axis=1, keepdims=True) * rng.standard_normal(sides.shape)
    voice_rms = np.sqrt(np.mean(voice.astype(np.float64) ** 2))
    side_rms = np.sqrt(np.mean(sides**2, axis=1, keepdims=True))
    sides *= voice_rms / side_rms * 10.0 ** (accompaniment_db / 20.0)
    accompaniment = sides.astype(np.float32)
    vocals = np.stack([voice, voice])
    return StereoMix(
        mixture=Audio(vocals + accompaniment, sample_rate),
        vocals=Audio(vocals, sample_rate),
        accompaniment=Audio(accompaniment, sample_rate),
    )


def cents_error(measured_hz: np.ndarray, reference_hz: np.ndarray) -> np.ndarray:
    """Absolute pitch error in cents, only for frames voiced (> 0) in both tracks.

    Returns an empty array when no frame is voiced in both: pair it with a check on the
    voiced fraction, or an extractor that says "unvoiced" everywhere would look perfect.
    """
    measured = np.asarray(measured_hz, dtype=np.float64)
    reference = np.asarray(reference_hz, dtype=np.float64)
    if measured.shape != reference.shape:
        raise ValueError(
            f"pitch tracks differ in length: {measured.shape} measured, {reference.shape} reference"
        )
    both_voiced = (measured > 0) & (reference > 0)
    return np.abs(1200.0 * np.log2(measured[both_voiced] / reference[both_voiced]))


def voiced_fraction(f0_hz: np.ndarray) -> float:
    """The share of frames with a pitch (> 0)."""
    f0 = np.asarray(f0_hz)
    return float(np.mean(f0 > 0)) if f0.size else 0.0


def voicing_agreement(a_hz: np.ndarray, b_hz: np.ndarray) -> float:
    """The share of frames two tracks call the same way (both voiced or both unvoiced)."""
    a = np.asarray(a_hz)
    b = np.asarray(b_hz)
    if a.shape != b.shape:
        raise ValueError(f"pitch tracks differ in length: {a.shape} and {b.shape}")
    return float(np.mean((a > 0) == (b > 0))) if a.size else 1.0


def rms_db(samples: np.ndarray) -> float:
    """RMS level in dBFS over all samples and channels; ``-inf`` for digital silence."""
    values = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(values**2))) if values.size else 0.0
    return 20.0 * float(np.log10(rms)) if rms > 0 else -np.inf


def sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-distortion ratio in dB: reference energy over the energy of the error.

    The plain (not scale-invariant) SDR: a separator that returns the right source at the
    wrong level is penalised, as a listener would hear it.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"reference {ref.shape} and estimate {est.shape} differ in shape")
    error = float(np.sum((ref - est) ** 2))
    signal = float(np.sum(ref**2))
    if error == 0:
        return np.inf
    if signal == 0:
        return -np.inf
    return 10.0 * float(np.log10(signal / error))


def integrated_loudness(audio: Audio) -> float:
    """Integrated loudness (ITU-R BS.1770) in LUFS, ``-inf`` when everything is gated out.

    Clips shorter than BS.1770's 400 ms gating block are measured as a single block.
    """
    import pyloudnorm

    if audio.num_samples == 0:
        return -np.inf
    block_seconds = min(0.4, audio.duration)
    meter = pyloudnorm.Meter(audio.sample_rate, block_size=block_seconds)
    return float(meter.integrated_loudness(audio.samples.T.astype(np.float64)))


def praat_pitch_hz(audio: Audio) -> np.ndarray:
    """Praat's autocorrelation pitch of ``audio`` (mixed to mono) every 10 ms, 75-400 Hz,
    0 where unvoiced: a tracker independent of the neural ones a conversion runs, for
    checking what a voice sings."""
    import parselmouth

    mono = audio.to_mono().samples[0].astype(np.float64)
    pitch = parselmouth.Sound(mono, audio.sample_rate).to_pitch_ac(
        time_step=0.01, pitch_floor=75.0, pitch_ceiling=400.0
    )
    return np.asarray(pitch.selected_array["frequency"])
