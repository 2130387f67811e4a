"""The classic pitch extractors RVC has always offered: ``pm``, ``harvest`` and ``dio``.

``pm`` is Praat's autocorrelation pitch tracker (through praat-parselmouth), fast and
good on clean speech. ``harvest`` and ``dio`` come from the WORLD vocoder (through
pyworld): harvest is slow and robust, dio is fast and rougher. Both WORLD estimates are
refined with ``stonemask``, as RVC does, and harvest's gets RVC's 3-tap median filter.

All three follow the :class:`~urvc_core.backends.F0Extractor` contract to the letter:
``len(samples) // hop_length + 1`` float32 values in Hz, value ``i`` centred on sample
``i * hop_length``, ``0`` where unvoiced, voiced values within ``[f0_min, f0_max]``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from urvc_core.backends import F0Extractor
from urvc_core.errors import UrvcError
from urvc_core.hookspecs import Register, hookimpl

#: Estimates this close outside the requested range (a quarter of a semitone) are
#: clamped onto it: stonemask's refinement nudges a value sitting on the edge of the
#: search range a hair beyond it. Anything further out is not a pitch the caller asked
#: for, and the frame is reported unvoiced.
_EDGE_TOLERANCE = 2.0 ** (0.5 / 12.0)


def checked_mono_samples(
    samples: np.ndarray, sample_rate: int, hop_length: int, f0_min: float, f0_max: float
) -> np.ndarray:
    """The samples as contiguous float64 mono, after checking the call's arguments.

    float64 because both Praat and WORLD compute in double precision and take nothing
    else.
    """
    array = np.asarray(samples)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise UrvcError(
            f"Pitch extraction needs mono samples shaped (samples,); got shape {array.shape}. "
            "Mix the audio down to one channel first."
        )
    if sample_rate <= 0:
        raise UrvcError(f"Sample rate must be positive; got {sample_rate}.")
    if hop_length <= 0:
        raise UrvcError(f"Hop length must be a positive number of samples; got {hop_length}.")
    if not 0 < f0_min < f0_max:
        raise UrvcError(
            f"Pitch range must satisfy 0 < f0_min < f0_max; got f0_min={f0_min}, f0_max={f0_max}."
        )
    return np.ascontiguousarray(array, dtype=np.float64)


def fit_to_frame_count(f0: np.ndarray, frame_count: int) -> np.ndarray:
    """Trim or zero-pad (unvoiced) at the end so that exactly ``frame_count`` values remain.

    The trackers place frame ``i`` at time ``i * hop / sample_rate`` already; they only
    disagree with the contract about how many frames the last partial hop gets.
    """
    if len(f0) >= frame_count:
        return f0[:frame_count]
    return np.pad(f0, (0, frame_count - len(f0)))


def confine_to_range(f0: np.ndarray, f0_min: float, f0_max: float) -> np.ndarray:
    """Float32 Hz with non-finite and out-of-range values made unvoiced (see _EDGE_TOLERANCE)."""
    f0 = np.nan_to_num(np.asarray(f0, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    voiced = f0 > 0
    near_range = (f0 >= f0_min / _EDGE_TOLERANCE) & (f0 <= f0_max * _EDGE_TOLERANCE)
    confined = np.where(voiced & near_range, np.clip(f0, f0_min, f0_max), 0.0)
    return confined.astype(np.float32)


class PraatPitch(F0Extractor):
    """Praat's autocorrelation pitch tracker, set up the way RVC's ``pm`` method uses it."""

    name = "pm"
    description = "Praat autocorrelation pitch (parselmouth): fast, good on clean speech"
    requires_modules = ("parselmouth",)

    #: A frame is voiced when its autocorrelation peak reaches this; RVC uses 0.6 rather
    #: than Praat's 0.45 so that breath and consonants stay unvoiced.
    voicing_threshold = 0.6
    #: Praat's autocorrelation window spans this many periods of the pitch floor.
    periods_per_window = 3.0

    def extract_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int = 160,
        f0_min: float = 50.0,
        f0_max: float = 1100.0,
    ) -> np.ndarray:
        import parselmouth

        signal = checked_mono_samples(samples, sample_rate, hop_length, f0_min, f0_max)
        frame_count = self.frame_count(len(signal), hop_length)
        # Praat only places frames whose whole window fits in the sound, centred on it.
        # Padding with half a window of silence (plus a hop) on each side lets every
        # contract frame, from sample 0 to the very end, have a Praat frame near it.
        pad = math.ceil(self.periods_per_window / f0_min / 2 * sample_rate) + hop_length
        padded = np.pad(signal, (pad, pad))
        pitch = parselmouth.Sound(padded, sampling_frequency=sample_rate).to_pitch_ac(
            time_step=hop_length / sample_rate,
            voicing_threshold=self.voicing_threshold,
            pitch_floor=f0_min,
            pitch_ceiling=f0_max,
        )
        praat_f0 = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
        praat_times = np.asarray(pitch.xs(), dtype=np.float64)
        if len(praat_f0) == 0:
            return np.zeros(frame_count, dtype=np.float32)
        # Praat centres its frame grid in the sound, so it is offset from ours by less
        # than a hop: take the nearest Praat frame for each contract frame.
        wanted_times = (np.arange(frame_count) * hop_length + pad) / sample_rate
        step = hop_length / sample_rate
        nearest = np.rint((wanted_times - praat_times[0]) / step).astype(np.int64)
        inside = (nearest >= 0) & (nearest < len(praat_f0))
        f0 = np.zeros(frame_count, dtype=np.float64)
        f0[inside] = praat_f0[nearest[inside]]
        return confine_to_range(f0, f0_min, f0_max)


class _WorldPitch(F0Extractor):
    """What harvest and dio share: WORLD's frame grid, stonemask refinement, the range."""

    requires_modules: ClassVar[tuple[str, ...]] = ("pyworld",)

    def extract_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int = 160,
        f0_min: float = 50.0,
        f0_max: float = 1100.0,
    ) -> np.ndarray:
        import pyworld
        signal = checked_mono_samples(samples, sample_rate, hop_length, f0_min, f0_max)
        frame_count = self.frame_count(len(signal), hop_length)
        if len(signal) == 0:
            return np.zeros(frame_count, dtype=np.float32)
        # WORLD's frame k lies at k * frame_period, which is the contract's grid when the
        # period is one hop.
        frame_period_ms = 1000.0 * hop_length / sample_rate
        raw_f0, times = self.track(pyworld, signal, sample_rate, frame_period_ms, f0_min, f0_max)
        refined = pyworld.stonemask(signal, raw_f0, times, sample_rate)
        refined = self.smooth(np.asarray(refined, dtype=np.float64))
        return confine_to_range(fit_to_frame_count(refined, frame_count), f0_min, f0_max)

    def track(
        self,
        pyworld: Any,
        signal: np.ndarray,
        sample_rate: int,
        frame_period_ms: float,
        f0_min: float,
        f0_max: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The raw f0 track and its frame times in seconds."""
        raise NotImplementedError

    def smooth(self, f0: np.ndarray) -> np.ndarray:
        return f0


class HarvestPitch(_WorldPitch):
    """WORLD's Harvest: robust on noisy and breathy voices, about 0.2 s per second of audio."""

    name = "harvest"
    description = "WORLD Harvest pitch (pyworld) with stonemask: slow, robust"
    requires_modules = ("pyworld", "scipy")

    def track(
        self,
        pyworld: Any,
        signal: np.ndarray,
        sample_rate: int,
        frame_period_ms: float,
        f0_min: float,
        f0_max: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        f0, times = pyworld.harvest(
            signal, sample_rate, f0_floor=f0_min, f0_ceil=f0_max, frame_period=frame_period_ms
        )
        return f0, times

    def smooth(self, f0: np.ndarray) -> np.ndarray:
        # RVC median-filters harvest's track over three frames: it removes the lone
        # octave jumps harvest makes at voicing boundaries.
        from scipy.signal import medfilt

        if len(f0) < 3:
            return f0
        return np.asarray(medfilt(f0, 3), dtype=np.float64)


class DioPitch(_WorldPitch):
    """WORLD's DIO: fast, rougher than harvest on voicing decisions."""

    name = "dio"
    description = "WORLD DIO pitch (pyworld) with stonemask: fast, rough"

    def track(
        self,
        pyworld: Any,
        signal: np.ndarray,
        sample_rate: int,
        frame_period_ms: float,
        f0_min: float,
        f0_max: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        f0, times = pyworld.dio(
            signal, sample_rate, f0_floor=f0_min, f0_ceil=f0_max, frame_period=frame_period_ms
        )
        return f0, times


@hookimpl
def register_f0_extractors(register: Register) -> None:
    register(PraatPitch)
    register(HarvestPitch)
    register(DioPitch)
