"""The classic pitch extractors RVC has always offered: ``pm``, ``harvest`` and ``dio``.

``pm`` is Praat's autocorrelation pitch tracker (through praat-parselmouth), fast and
good on clean speech. ``harvest`` and ``dio`` come from the WORLD vocoder (through
pyworld): harvest is slow and robust, dio is fast and rougher. Both WORLD estimates are
refined with ``stonemask``, as RVC does, and harvest's gets RVC's 3-tap median filter.

All three place frame ``i`` on sample ``i * hop_length``, as the
:class:`~urvc_core.backends.F0Extractor` contract says; the base class's ``extract_f0``
checks the arguments, fits the frame count and keeps voiced values within the range.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from urvc_core.backends import F0Extractor
from urvc_core.hookspecs import Register, hookimpl


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

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        import parselmouth

        # Praat computes in double precision and takes nothing else.
        signal = np.asarray(samples, dtype=np.float64)
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
            return praat_f0  # no frame Praat could analyse: all unvoiced
        # Praat centres its frame grid in the sound, so it is offset from ours by less
        # than a hop: take the nearest Praat frame for each contract frame.
        wanted_times = (np.arange(frame_count) * hop_length + pad) / sample_rate
        step = hop_length / sample_rate
        nearest = np.rint((wanted_times - praat_times[0]) / step).astype(np.int64)
        inside = (nearest >= 0) & (nearest < len(praat_f0))
        f0 = np.zeros(frame_count, dtype=np.float64)
        f0[inside] = praat_f0[nearest[inside]]
        return f0


class _WorldPitch(F0Extractor):
    """What harvest and dio share: WORLD's frame grid, stonemask refinement, the range."""

    requires_modules: ClassVar[tuple[str, ...]] = ("pyworld",)
    # WORLD runs in C++ without the GIL: harvest in a thread beside another costs no time.
    releases_gil = True

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        import pyworld

        # WORLD computes in double precision and takes nothing else.
        signal = np.asarray(samples, dtype=np.float64)
        # WORLD's frame k lies at k * frame_period, which is the contract's grid when the
        # period is one hop.
        frame_period_ms = 1000.0 * hop_length / sample_rate
        raw_f0, times = self.track(pyworld, signal, sample_rate, frame_period_ms, f0_min, f0_max)
        refined = pyworld.stonemask(signal, raw_f0, times, sample_rate)
        # WORLD gives the last partial hop a frame more or less than the contract;
        # extract_f0 fits the count.
        return self.smooth(np.asarray(refined, dtype=np.float64))

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
