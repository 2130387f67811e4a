"""The effects: one :class:`~urvc_core.Effect` per pedalboard plugin users asked for.

Every parameter is a typed, ranged :class:`~urvc_core.Setting` named as pedalboard names
it, so pedalboard's documentation applies word for word. Defaults are pedalboard's
except where pedalboard's default does nothing to a voice (a compressor at ratio 1, a
gate at -100 dB, filters at 50 Hz, a gain of 1 dB): there they are a sensible start for
a converted vocal. Ranges are pedalboard's (and JUCE's, under it) where those have
one; where they have none the range is what makes sense for a voice or a mix.

Each effect streams the track through its plugin in blocks (:mod:`.streaming`); the
time-based ones (reverb, delay, chorus, phaser, convolution) ring out past the end of
the input. ``pitch-shift`` is the exception, shifted in one go: see :mod:`.pitch`.
pedalboard itself is imported only when an effect runs.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from urvc_core.backends import Audio, Effect, Setting
from urvc_core.errors import InvalidSettingError, UrvcError
from urvc_effects_pedalboard.pitch import PRESERVE_FORMANTS, SEMITONES, pitch_shift_audio
from urvc_effects_pedalboard.streaming import Progress, RingOut, stream_through_plugin

#: Sample rates the MP3 format has; LAME refuses any other.
MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: pedalboard's resampling algorithms, fastest and roughest first.
RESAMPLE_QUALITIES = (
    "ZeroOrderHold",
    "Linear",
    "CatmullRom",
    "Lagrange",
    "WindowedSinc",
    "WindowedSinc256",
    "WindowedSinc128",
    "WindowedSinc64",
    "WindowedSinc32",
    "WindowedSinc16",
    "WindowedSinc8",
)
#: The ladder filter's modes: low-, high- or band-pass, 12 or 24 dB per octave.
LADDER_MODES = ("lpf12", "hpf12", "bpf12", "lpf24", "hpf24", "bpf24")
#: An impulse response longer than this is not a room or a cabinet but a whole recording.
MAX_IMPULSE_RESPONSE_SECONDS = 60.0


def _mix(default: float, what: str = "the effect") -> Setting:
    return Setting(
        "mix",
        float,
        default,
        f"Share of {what} in the output: 0 leaves the input untouched, 1 is all effect",
        minimum=0.0,
        maximum=1.0,
    )


def _max_tail(default: float = 10.0) -> Setting:
    return Setting(
        "max_tail_s",
        float,
        default,
        "Longest tail kept after the input ends; the tail stops earlier once it falls "
        "below -80 dBFS",
        unit="s",
        minimum=0.0,
        maximum=60.0,
    )


def _cutoff(name: str, default: float, help: str) -> Setting:
    return Setting(name, float, default, help, unit="Hz", minimum=1.0, maximum=20000.0)


def _eq_gain(help: str) -> Setting:
    return Setting("gain_db", float, 0.0, help, unit="dB", minimum=-24.0, maximum=24.0)


_Q = Setting(
    "q",
    float,
    0.7071067690849304,
    "Width of the band: higher is narrower; 0.707 is the smooth Butterworth shape",
    minimum=0.1,
    maximum=20.0,
)


class PedalboardEffect(Effect):
    """An effect run by one pedalboard plugin, streamed through it block by block.

    Subclasses name the plugin in ``plugin_class``; settings whose names the plugin
    takes are handed to it as they are. ``apply`` also takes a ``progress`` callback,
    called with the fraction of the input done, which chains use for their progress bar.
    """

    requires_modules = ("pedalboard",)
    #: The pedalboard class this effect runs.
    plugin_class: ClassVar[str] = ""
    #: Settings that are this plugin's own, not pedalboard's.
    own_settings: ClassVar[frozenset[str]] = frozenset({"max_tail_s"})
    #: Settings that are frequencies which must lie below half the sample rate.
    below_nyquist: ClassVar[tuple[str, ...]] = ()

    def apply(self, audio: Audio, progress: Progress | None = None) -> Audio:
        self.check_sample_rate(audio.sample_rate)
        plugin = self.make_plugin(audio.sample_rate)
        return stream_through_plugin(plugin, audio, ring_out=self.ring_out(), progress=progress)

    def make_plugin(self, sample_rate: int) -> Any:
        import pedalboard

        options = {k: v for k, v in self.options.items() if k not in self.own_settings}
        return getattr(pedalboard, self.plugin_class)(**options)

    def ring_out(self) -> RingOut | None:
        """How the effect's tail is let out after the input ends; None: it has none."""
        return None

    def check_sample_rate(self, sample_rate: int) -> None:
        """Refuse a frequency setting the audio can't hold, before any work is done."""
        for name in self.below_nyquist:
            frequency = float(self.options[name])
            if frequency >= sample_rate / 2:
                raise InvalidSettingError(
                    f"effect '{self.name}': {name}={frequency:g} Hz is not below half the "
                    f"sample rate ({sample_rate / 2:g} Hz for this {sample_rate} Hz audio); "
                    f"use a lower frequency."
                )


class RingingEffect(PedalboardEffect):
    """An effect that goes on sounding after its input stops: it gets a ``max_tail_s``."""

    def ring_out(self) -> RingOut | None:
        return RingOut(
            max_seconds=float(self.options["max_tail_s"]),
            quiet_seconds=self.longest_silent_gap() + 0.25,
        )

    def longest_silent_gap(self) -> float:
        """Seconds the effect may stay silent after the input ends before sounding again."""
        return 0.0


# -- time-based --------------------------------------------------------------------


class Reverb(RingingEffect):
    """Freeverb's room: a dense tail that puts a dry vocal into a space."""

    name = "reverb"
    description = "Room reverb (Freeverb); the tail rings out past the end"
    plugin_class = "Reverb"
    settings = (
        Setting(
            "room_size",
            float,
            0.5,
            "Size of the room: 0 is a booth, 1 a hall with a long tail",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "damping",
            float,
            0.5,
            "How fast the high frequencies die away in the tail: 0 bright, 1 dark",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "wet_level",
            float,
            0.33,
            "Level of the reverberated sound",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "dry_level",
            float,
            0.4,
            "Level of the untouched sound: 0.5 keeps it at its original level",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "width",
            float,
            1.0,
            "Stereo width of the tail: 0 mono, 1 widest",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "freeze_mode",
            float,
            0.0,
            "Above 0.5 the tail is held forever (a drone, cut at max_tail_s)",
            minimum=0.0,
            maximum=1.0,
        ),
        _max_tail(),
    )


class Delay(RingingEffect):
    """Echoes: the input repeated after a time, each repeat quieter by ``feedback``."""

    name = "delay"
    description = "Echo at a set time, with feedback for repeats; the echoes ring out"
    plugin_class = "Delay"
    settings = (
        Setting(
            "delay_seconds",
            float,
            0.5,
            "Time from the sound to its echo",
            unit="s",
            minimum=0.0,
            maximum=30.0,
        ),
        Setting(
            "feedback",
            float,
            0.0,
            "Share of each echo fed back for another: 0 one echo, near 1 endless repeats",
            minimum=0.0,
            maximum=1.0,
        ),
        _mix(0.5, "the echo"),
        _max_tail(),
    )

    def longest_silent_gap(self) -> float:
        return float(self.options["delay_seconds"])


class Chorus(RingingEffect):
    """A modulated short delay: a thicker, doubled voice; a flanger with lots of feedback."""

    name = "chorus"
    description = "Chorus (doubling); flanger with a short delay and much feedback"
    plugin_class = "Chorus"
    settings = (
        Setting(
            "rate_hz",
            float,
            1.0,
            "Speed of the modulation",
            unit="Hz",
            minimum=0.0,
            maximum=100.0,
        ),
        Setting(
            "depth",
            float,
            0.25,
            "Depth of the modulation",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "centre_delay_ms",
            float,
            7.0,
            "Delay the modulation swings around: 7-8 ms is a classic chorus, less a flanger",
            unit="ms",
            minimum=1.0,
            maximum=100.0,
        ),
        Setting(
            "feedback",
            float,
            0.0,
            "Share of the delayed sound fed back into the delay (negative inverts it)",
            minimum=-1.0,
            maximum=1.0,
        ),
        _mix(0.5, "the modulated copy"),
        _max_tail(2.0),
    )

    def longest_silent_gap(self) -> float:
        return 2 * float(self.options["centre_delay_ms"]) / 1000


class Phaser(RingingEffect):
    """Six swept all-pass stages: moving notches that make a sound swirl."""

    name = "phaser"
    description = "Phaser: sweeping notches in the spectrum"
    plugin_class = "Phaser"
    settings = (
        Setting(
            "rate_hz",
            float,
            1.0,
            "Speed of the sweep",
            unit="Hz",
            minimum=0.0,
            maximum=100.0,
        ),
        Setting(
            "depth",
            float,
            0.5,
            "Depth of the sweep",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "centre_frequency_hz",
            float,
            1300.0,
            "Frequency the notches sweep around",
            unit="Hz",
            minimum=10.0,
            maximum=20000.0,
        ),
        Setting(
            "feedback",
            float,
            0.0,
            "Resonance of the notches: near -1 or 1 it rings (and gets much louder)",
            minimum=-1.0,
            maximum=1.0,
        ),
        _mix(0.5, "the phased sound"),
        _max_tail(2.0),
    )


class Convolution(RingingEffect):
    """The input played through an impulse response: a real room, hall, or speaker cabinet."""

    name = "convolution"
    description = "Convolution with an impulse-response file (real rooms, cabinets)"
    plugin_class = "Convolution"
    own_settings = frozenset({"max_tail_s", "impulse_response"})
    settings = (
        Setting(
            "impulse_response",
            str,
            None,
            "Audio file of the impulse response (wav, flac...), resampled to the input's rate",
        ),
        _mix(1.0, "the convolved sound"),
        _max_tail(),
    )

    _impulse_seconds: float = 0.0

    def make_plugin(self, sample_rate: int) -> Any:
        import pedalboard

        from urvc_core.audio import load_audio

        path = self.options["impulse_response"]
        if not path:
            raise InvalidSettingError(
                "effect 'convolution' needs an impulse response: "
                "convolution:impulse_response=PATH (a wav or flac of a room or cabinet)."
            )
        impulse = load_audio(path, sample_rate=sample_rate)
        if impulse.duration > MAX_IMPULSE_RESPONSE_SECONDS:
            raise UrvcError(
                f"{path} is {impulse.duration:.0f} s long: an impulse response is a few seconds "
                f"at most ({MAX_IMPULSE_RESPONSE_SECONDS:g} s here); choose a recorded "
                f"impulse, not a song."
            )
        if impulse.channels > 2:
            impulse = impulse.to_mono()
        self._impulse_seconds = impulse.duration
        return pedalboard.Convolution(
            impulse.samples, mix=float(self.options["mix"]), sample_rate=float(sample_rate)
        )

    def longest_silent_gap(self) -> float:
        return self._impulse_seconds


# -- dynamics and level -----------------------------------------------------------


class Compressor(PedalboardEffect):
    """Turns down what rises above the threshold: an even, upfront vocal."""

    name = "compressor"
    description = "Dynamic range compressor"
    plugin_class = "Compressor"
    settings = (
        Setting(
            "threshold_db",
            float,
            -18.0,
            "Level above which the sound is turned down",
            unit="dBFS",
            minimum=-60.0,
            maximum=0.0,
        ),
        Setting(
            "ratio",
            float,
            4.0,
            "How much: at 4, a level 4 dB over the threshold comes out 1 dB over",
            minimum=1.0,
            maximum=50.0,
        ),
        Setting(
            "attack_ms",
            float,
            1.0,
            "How fast it reacts to a louder sound",
            unit="ms",
            minimum=0.0,
            maximum=1000.0,
        ),
        Setting(
            "release_ms",
            float,
            100.0,
            "How fast it lets go once the sound is quieter",
            unit="ms",
            minimum=0.0,
            maximum=5000.0,
        ),
    )


class Limiter(PedalboardEffect):
    """A look-ahead brick-wall limiter: no sample leaves above the ceiling."""

    name = "limiter"
    description = "Brick-wall limiter: peaks never pass the ceiling, no make-up gain"
    # Not pedalboard's Limiter, which adds make-up gain and only stops at 0 dBFS.
    plugin_class = "BrickwallLimiter"
    settings = (
        Setting(
            "ceiling_db",
            float,
            -1.0,
            "Highest sample level let out",
            unit="dBFS",
            minimum=-60.0,
            maximum=0.0,
        ),
        Setting(
            "release_ms",
            float,
            100.0,
            "How fast the gain recovers after a peak",
            unit="ms",
            minimum=0.1,
            maximum=5000.0,
        ),
        Setting(
            "lookahead_ms",
            float,
            5.0,
            "How far ahead it sees peaks coming, so it turns down smoothly before them",
            unit="ms",
            minimum=0.1,
            maximum=100.0,
        ),
        Setting(
            "true_peak",
            bool,
            False,
            "Also catch peaks between samples (4x oversampled detection)",
        ),
    )


class NoiseGate(PedalboardEffect):
    """Silences what stays below the threshold: breaths and hiss between phrases."""

    name = "noise-gate"
    description = "Noise gate: mutes the sound while it stays below a threshold"
    plugin_class = "NoiseGate"
    settings = (
        Setting(
            "threshold_db",
            float,
            -50.0,
            "Level below which the sound is turned down",
            unit="dBFS",
            minimum=-100.0,
            maximum=0.0,
        ),
        Setting(
            "ratio",
            float,
            10.0,
            "How hard: 1 does nothing, 10 and above close the gate",
            minimum=1.0,
            maximum=100.0,
        ),
        Setting(
            "attack_ms",
            float,
            1.0,
            "How fast the gate opens when the sound comes back",
            unit="ms",
            minimum=0.0,
            maximum=1000.0,
        ),
        Setting(
            "release_ms",
            float,
            100.0,
            "How fast it closes once the sound falls below the threshold",
            unit="ms",
            minimum=0.0,
            maximum=5000.0,
        ),
    )


class Gain(PedalboardEffect):
    """A volume control: louder or quieter, nothing else."""

    name = "gain"
    description = "Volume change in dB"
    plugin_class = "Gain"
    settings = (
        Setting(
            "gain_db",
            float,
            0.0,
            "Change of level: -6 halves the amplitude",
            unit="dB",
            minimum=-60.0,
            maximum=24.0,
        ),
    )


# -- tone -----------------------------------------------------------------------------


_SLOPE_HELP = (
    "Steepness: 6 is pedalboard's single first-order filter, 12, 18 and 24 chain two, "
    "three and four, tuned so the cutoff stays the -3 dB point"
)


class _FilterCascade(PedalboardEffect):
    """pedalboard's first-order filter, chained for steeper slopes.

    ``slope_db_per_octave / 6`` identical sections run in series. Each section's own
    cutoff is moved (down for a high-pass, up for a low-pass) so that together they
    are 3 dB down at ``cutoff_frequency_hz``: a softer knee than a Butterworth filter of
    the same order, the same slope beyond it.
    """

    section_class: ClassVar[str] = ""
    #: +1 when a section's cutoff lies above the overall cutoff (low-pass), -1 below.
    direction: ClassVar[int] = 1

    def section_cutoff(self) -> float:
        sections = int(self.options["slope_db_per_octave"]) // 6
        share = 2.0 ** (-1.0 / sections)  # each section's power gain at the cutoff
        ratio = math.sqrt(share / (1.0 - share))
        cutoff = float(self.options["cutoff_frequency_hz"])
        return cutoff * ratio if self.direction > 0 else cutoff / ratio

    def check_sample_rate(self, sample_rate: int) -> None:
        cutoff = float(self.options["cutoff_frequency_hz"])
        highest = cutoff * sample_rate / 2 / self.section_cutoff()
        if self.section_cutoff() >= sample_rate / 2 or cutoff >= sample_rate / 2:
            slope = self.options["slope_db_per_octave"]
            raise InvalidSettingError(
                f"effect '{self.name}': cutoff_frequency_hz={cutoff:g} Hz at {slope} dB/octave "
                f"is too close to half the sample rate of this {sample_rate} Hz audio; use "
                f"at most {math.floor(min(highest, sample_rate / 2) * 0.99):g} Hz, "
                f"or a gentler slope."
            )

    def make_plugin(self, sample_rate: int) -> Any:
        import pedalboard

        sections = int(self.options["slope_db_per_octave"]) // 6
        section = getattr(pedalboard, self.section_class)
        cutoff = self.section_cutoff()
        return pedalboard.Pedalboard([section(cutoff_frequency_hz=cutoff) for _ in range(sections)])


class HighpassFilter(_FilterCascade):
    name = "highpass"
    description = "High-pass filter, 6 to 24 dB/octave: removes rumble below the cutoff"
    section_class = "HighpassFilter"
    direction = -1
    settings = (
        _cutoff(
            "cutoff_frequency_hz",
            80.0,
            "Frequency below which the sound is cut (-3 dB there)",
        ),
        Setting(
            "slope_db_per_octave", int, 12, _SLOPE_HELP, unit="dB/octave", choices=(6, 12, 18, 24)
        ),
    )


class LowpassFilter(_FilterCascade):
    name = "lowpass"
    description = "Low-pass filter, 6 to 24 dB/octave: softens highs above the cutoff"
    section_class = "LowpassFilter"
    direction = 1
    settings = (
        _cutoff(
            "cutoff_frequency_hz",
            6000.0,
            "Frequency above which the sound is cut (-3 dB there)",
        ),
        Setting(
            "slope_db_per_octave", int, 6, _SLOPE_HELP, unit="dB/octave", choices=(6, 12, 18, 24)
        ),
    )


class HighShelfFilter(PedalboardEffect):
    name = "high-shelf"
    description = "High-shelf EQ: boosts or cuts everything above a frequency"
    plugin_class = "HighShelfFilter"
    below_nyquist = ("cutoff_frequency_hz",)
    settings = (
        _cutoff("cutoff_frequency_hz", 440.0, "Frequency the shelf starts at"),
        _eq_gain("Boost (positive) or cut (negative) above the frequency"),
        _Q,
    )


class LowShelfFilter(PedalboardEffect):
    name = "low-shelf"
    description = "Low-shelf EQ: boosts or cuts everything below a frequency"
    plugin_class = "LowShelfFilter"
    below_nyquist = ("cutoff_frequency_hz",)
    settings = (
        _cutoff("cutoff_frequency_hz", 440.0, "Frequency the shelf ends at"),
        _eq_gain("Boost (positive) or cut (negative) below the frequency"),
        _Q,
    )


class PeakFilter(PedalboardEffect):
    name = "peak"
    description = "Peak (bell) EQ: boosts or cuts a band around a frequency"
    plugin_class = "PeakFilter"
    below_nyquist = ("cutoff_frequency_hz",)
    settings = (
        _cutoff("cutoff_frequency_hz", 440.0, "Centre of the band"),
        _eq_gain("Boost (positive) or cut (negative) at the centre of the band"),
        _Q,
    )


class LadderFilter(PedalboardEffect):
    """The Moog ladder: a resonant filter with character, 12 or 24 dB per octave."""

    name = "ladder-filter"
    description = "Moog-style ladder filter: resonant low-, high- or band-pass"
    plugin_class = "LadderFilter"
    below_nyquist = ("cutoff_hz",)
    settings = (
        Setting(
            "mode",
            str,
            "lpf12",
            "Filter type: lpf, hpf or bpf (low-, high-, band-pass), then 12 or 24 dB per octave",
            choices=LADDER_MODES,
        ),
        _cutoff("cutoff_hz", 200.0, "Cutoff (or centre, for band-pass) frequency"),
        Setting(
            "resonance",
            float,
            0.0,
            "Emphasis at the cutoff: near 1 it whistles",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "drive",
            float,
            1.0,
            "Input drive into the filter's saturation: 1 clean, more adds grit",
            minimum=1.0,
            maximum=20.0,
        ),
    )

    def make_plugin(self, sample_rate: int) -> Any:
        import pedalboard

        return pedalboard.LadderFilter(
            mode=getattr(pedalboard.LadderFilter.Mode, str(self.options["mode"]).upper()),
            cutoff_hz=float(self.options["cutoff_hz"]),
            resonance=float(self.options["resonance"]),
            drive=float(self.options["drive"]),
        )


# -- colour and lo-fi -----------------------------------------------------------


class Distortion(PedalboardEffect):
    name = "distortion"
    description = "Soft (tanh) saturation: warmth at low drive, fuzz at high"
    plugin_class = "Distortion"
    settings = (
        Setting(
            "drive_db",
            float,
            25.0,
            "Gain into the tanh curve: a few dB warms, 20 and more distorts",
            unit="dB",
            minimum=0.0,
            maximum=60.0,
        ),
    )


class Clipping(PedalboardEffect):
    name = "clipping"
    description = "Hard clipping at a threshold"
    plugin_class = "Clipping"
    settings = (
        Setting(
            "threshold_db",
            float,
            -6.0,
            "Level at which the waveform is cut flat",
            unit="dBFS",
            minimum=-60.0,
            maximum=0.0,
        ),
    )


class Bitcrush(PedalboardEffect):
    name = "bitcrush"
    description = "Bit-depth reduction: the grainy sound of early samplers"
    plugin_class = "Bitcrush"
    settings = (
        Setting(
            "bit_depth",
            float,
            8.0,
            "Bits per sample kept (fractions allowed): 16 is CD quality, 4 very crushed",
            unit="bits",
            minimum=1.0,
            maximum=32.0,
        ),
    )


class Resample(PedalboardEffect):
    """Down to a lower rate and back: the dull, aliased sound of cheap digital audio."""

    name = "resample"
    description = "Down-sample and back up: lo-fi bandwidth and aliasing"
    plugin_class = "Resample"
    settings = (
        Setting(
            "target_sample_rate",
            float,
            8000.0,
            "Rate passed through: nothing above half of it survives",
            unit="Hz",
            minimum=100.0,
            maximum=192000.0,
        ),
        Setting(
            "quality",
            str,
            "WindowedSinc32",
            "Resampling algorithm: ZeroOrderHold is the crunchiest, WindowedSinc the cleanest",
            choices=RESAMPLE_QUALITIES,
        ),
    )

    def make_plugin(self, sample_rate: int) -> Any:
        import pedalboard

        return pedalboard.Resample(
            target_sample_rate=float(self.options["target_sample_rate"]),
            quality=getattr(pedalboard.Resample.Quality, str(self.options["quality"])),
        )


class MP3Compressor(PedalboardEffect):
    """The artefacts of a low-bitrate MP3 (LAME, variable bit rate), without writing one."""

    name = "mp3-compressor"
    description = "MP3 encoding artefacts (LAME VBR)"
    plugin_class = "MP3Compressor"
    settings = (
        Setting(
            "vbr_quality",
            float,
            2.0,
            "LAME's VBR quality: 0 best, 9.9 worst",
            minimum=0.0,
            maximum=9.9,
        ),
    )

    def apply(self, audio: Audio, progress: Progress | None = None) -> Audio:
        if audio.sample_rate in MP3_SAMPLE_RATES:
            return super().apply(audio, progress)
        # MP3 has no 40 kHz (RVC's rate) and such: encode at the next rate it has, and
        # come back. The two resampled copies are the price of an odd rate.
        from urvc_core.audio import resample

        coding_rate = next((r for r in MP3_SAMPLE_RATES if r >= audio.sample_rate), 48000)
        coded = super().apply(resample(audio, coding_rate), progress)
        back = resample(coded, audio.sample_rate)
        return Audio(back.samples[:, : audio.num_samples], audio.sample_rate)


class GSMFullRateCompressor(PedalboardEffect):
    """A 2G mobile phone call: GSM Full Rate at 8 kHz."""

    name = "gsm-compressor"
    description = "GSM Full Rate codec: the sound of a 2G phone call"
    plugin_class = "GSMFullRateCompressor"
    settings = (
        Setting(
            "quality",
            str,
            "WindowedSinc8",
            "Algorithm resampling to the codec's 8 kHz and back",
            choices=RESAMPLE_QUALITIES,
        ),
    )

    def make_plugin(self, sample_rate: int) -> Any:
        import pedalboard

        return pedalboard.GSMFullRateCompressor(
            quality=getattr(pedalboard.Resample.Quality, str(self.options["quality"]))
        )


# -- pitch -----------------------------------------------------------------------------


class PitchShift(Effect):
    """The pitch moved by semitones, length and timing unchanged (Rubber Band).

    Unlike the other effects it is not streamed in blocks but shifted in one call; see
    :mod:`urvc_effects_pedalboard.pitch` for why and what it costs.
    """

    name = "pitch-shift"
    description = "Pitch shift in semitones, length kept (Rubber Band, high quality)"
    requires_modules = ("pedalboard",)
    settings = (SEMITONES, PRESERVE_FORMANTS)

    def apply(self, audio: Audio, progress: Progress | None = None) -> Audio:
        shifted = pitch_shift_audio(
            audio,
            float(self.options["semitones"]),
            preserve_formants=bool(self.options["preserve_formants"]),
        )
        if progress is not None:
            progress(1.0)
        return shifted


EFFECT_CLASSES: tuple[type[Effect], ...] = (
    Reverb,
    Delay,
    Chorus,
    Phaser,
    Distortion,
    Clipping,
    Compressor,
    Gain,
    Limiter,
    NoiseGate,
    HighpassFilter,
    LowpassFilter,
    HighShelfFilter,
    LowShelfFilter,
    PeakFilter,
    LadderFilter,
    PitchShift,
    Convolution,
    Bitcrush,
    Resample,
    MP3Compressor,
    GSMFullRateCompressor,
)
