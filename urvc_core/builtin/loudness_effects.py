"""Level effects: ``loudness-normalize`` (to a LUFS target) and ``peak-normalize``.

A cover is mixed from a converted vocal and an instrumental that arrive at whatever
level the models left them; these two bring a track to a known level before mixing or
export. Both apply one gain to the whole track, so they change nothing but the level.
"""

from __future__ import annotations

import numpy as np

from urvc_core.backends import Audio, Effect, Setting
from urvc_core.hookspecs import Register, hookimpl

#: BS.1770's gating block. Clips shorter than this are measured as one block.
_GATING_BLOCK_SECONDS = 0.4
#: Kept below the peak limit so that float32 rounding of the scaled samples (about
#: 5e-7 dB) can't take the peak over it.
_PEAK_MARGIN_DB = 1e-5
#: pyloudnorm knows the channel weights of layouts up to 5 channels (L, R, C, Ls, Rs).
_MAX_WEIGHTED_CHANNELS = 5


def measure_integrated_loudness(audio: Audio) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4), ``-inf`` when all of it is gated out."""
    import pyloudnorm

    if audio.num_samples == 0:
        return -np.inf
    samples = audio.samples
    if audio.channels > _MAX_WEIGHTED_CHANNELS:
        # BS.1770 has no weights for wider layouts; their downmix is a fair stand-in.
        samples = samples.mean(axis=0, keepdims=True)
    meter = pyloudnorm.Meter(
        audio.sample_rate, block_size=min(_GATING_BLOCK_SECONDS, audio.duration)
    )
    return float(meter.integrated_loudness(samples.T.astype(np.float64)))


def peak_db(samples: np.ndarray) -> float:
    """The sample peak in dBFS, ``-inf`` for digital silence."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * float(np.log10(peak)) if peak > 0 else -np.inf


def apply_gain_db(audio: Audio, gain_db: float) -> Audio:
    gain = np.float32(10.0 ** (gain_db / 20.0))
    return Audio(audio.samples * gain, audio.sample_rate)


class LoudnessNormalize(Effect):
    """Brings the integrated loudness (BS.1770, LUFS) to a target, without clipping.

    When reaching the target would push the sample peak above ``max_peak_db``, the gain
    is lowered until the peak sits at ``max_peak_db``: the result is then quieter than
    the target, never clipped. Silence, and audio so quiet that BS.1770's -70 LUFS gate
    leaves nothing to measure, pass through unchanged.
    """

    name = "loudness-normalize"
    description = "Normalise integrated loudness (LUFS, BS.1770) with a peak ceiling"
    requires_modules = ("pyloudnorm",)
    settings = (
        Setting(
            "target_lufs",
            float,
            -14.0,
            "Integrated loudness to reach; streaming services play music at about -14",
            unit="LUFS",
            minimum=-70.0,
            maximum=-5.0,
        ),
        Setting(
            "max_peak_db",
            float,
            -1.0,
            "Highest sample peak allowed; the gain is lowered rather than clip",
            unit="dBFS",
            minimum=-20.0,
            maximum=0.0,
        ),
    )

    def apply(self, audio: Audio) -> Audio:
        loudness = measure_integrated_loudness(audio)
        if not np.isfinite(loudness):
            return Audio(audio.samples.copy(), audio.sample_rate)
        gain_db = float(self.options["target_lufs"]) - loudness
        headroom_db = float(self.options["max_peak_db"]) - _PEAK_MARGIN_DB - peak_db(audio.samples)
        return apply_gain_db(audio, min(gain_db, headroom_db))


class PeakNormalize(Effect):
    """Scales the audio so that its highest sample peak sits at ``peak_db``.

    Silence passes through unchanged: there is no gain that gives it a peak.
    """

    name = "peak-normalize"
    description = "Scale so the sample peak sits at a given level"
    settings = (
        Setting(
            "peak_db",
            float,
            -1.0,
            "Level the highest sample peak is brought to",
            unit="dBFS",
            minimum=-60.0,
            maximum=0.0,
        ),
    )

    def apply(self, audio: Audio) -> Audio:
        current_peak_db = peak_db(audio.samples)
        if not np.isfinite(current_peak_db):
            return Audio(audio.samples.copy(), audio.sample_rate)
        return apply_gain_db(audio, float(self.options["peak_db"]) - current_peak_db)


@hookimpl
def register_effects(register: Register) -> None:
    register(LoudnessNormalize)
    register(PeakNormalize)
