"""The conformance suites themselves: they fail broken backends and pass honest ones.

A suite that passes everything protects nobody, so each suite is shown a backend with
one specific defect and must fail the test that covers it (the test methods are called
directly and must raise AssertionError). Small but honest fixtures (a log-mel
"embedder", a tone-per-character "TTS engine") show those suites can be passed without
models; the built-in engines pass theirs in their own tests (the edge engine in
tests/test_speech.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from urvc_core.backends import (
    Audio,
    Effect,
    Embedder,
    Setting,
    TTSEngine,
)
from urvc_core.builtin.classic_f0 import PraatPitch
from urvc_core.builtin.dsp_separator import DspCenterSeparator
from urvc_core.builtin.weighted_fusion import WeightedSumFusion
from urvc_core.errors import UrvcError
from urvc_core.testing import (
    EffectConformance,
    EmbedderConformance,
    F0ExtractorConformance,
    FusionMethodConformance,
    SeparatorConformance,
    TTSEngineConformance,
    signals,
)

# --- honest reference fixtures for the kinds with no built-in backend ----------------


class LogMelEmbedderFixture(Embedder):
    """Test fixture: 80 log-mel bands per 20 ms frame, the simplest honest "content feature".

    It has no transformer, so ``layer`` and ``project`` change nothing. One frame per 320
    samples (``len // 320``), each from a 640-sample Hann window starting at the frame.
    """

    name = "log-mel-fixture"
    mel_bands: ClassVar[int] = 80
    window_length: ClassVar[int] = 640
    hop_length: ClassVar[int] = 320

    def embed(self, samples: np.ndarray, *, layer: int = 12, project: bool = False) -> np.ndarray:
        signal = np.asarray(samples, dtype=np.float64)
        frame_count = len(signal) // self.hop_length
        padded = np.pad(signal, (0, self.window_length))
        starts = np.arange(frame_count)[:, None] * self.hop_length
        frames = padded[starts + np.arange(self.window_length)[None, :]]
        spectrum = np.abs(np.fft.rfft(frames * np.hanning(self.window_length), axis=1)) ** 2
        mel_energy = spectrum @ self.mel_filterbank().T
        return np.log(mel_energy + 1e-10).astype(np.float32)

    def mel_filterbank(self) -> np.ndarray:
        """Triangular filters evenly spaced on the mel scale from 0 to 8 kHz."""
        bins = self.window_length // 2 + 1
        bin_hz = np.linspace(0.0, self.sample_rate / 2, bins)

        def to_mel(hz: np.ndarray) -> np.ndarray:
            return 2595.0 * np.log10(1.0 + hz / 700.0)

        edges_mel = np.linspace(
            0.0, float(to_mel(np.array(self.sample_rate / 2))), self.mel_bands + 2
        )
        edges_hz = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
        filters = np.zeros((self.mel_bands, bins))
        for band in range(self.mel_bands):
            low, centre, high = edges_hz[band : band + 3]
            rising = (bin_hz - low) / (centre - low)
            falling = (high - bin_hz) / (high - centre)
            filters[band] = np.clip(np.minimum(rising, falling), 0.0, None)
        return filters


class ToneSequenceTTSFixture(TTSEngine):
    """Test fixture: "speaks" each character as a 60 ms tone (pitch from the letter), spaces as rests."""

    name = "tone-sequence-fixture"
    sample_rate: ClassVar[int] = 22050
    base_hz: ClassVar[dict[str, float]] = {"low": 110.0, "high": 220.0}
    character_seconds: ClassVar[float] = 0.06

    def voices(self) -> list[str]:
        return list(self.base_hz)

    def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0) -> Audio:
        if not text.strip():
            raise UrvcError("There is no text to speak; give at least one word.")
        chosen = voice or "low"
        if chosen not in self.base_hz:
            raise UrvcError(f"No voice '{chosen}'; the voices are: {', '.join(self.base_hz)}.")
        length = round(self.character_seconds / speed * self.sample_rate)
        seconds = np.arange(length) / self.sample_rate
        fade = np.minimum(1.0, np.minimum(seconds, seconds[::-1]) / 0.005)
        pieces = []
        for character in text:
            if character.isspace():
                pieces.append(np.zeros(length))
            else:
                frequency = self.base_hz[chosen] * 2.0 ** ((ord(character) % 24) / 12.0)
                pieces.append(0.3 * fade * np.sin(2.0 * np.pi * frequency * seconds))
        return Audio(np.concatenate(pieces).astype(np.float32), self.sample_rate)


class TestLogMelEmbedderFixturePassesItsSuite(EmbedderConformance):
    dim = 80

    @pytest.fixture
    def backend(self) -> Embedder:
        return LogMelEmbedderFixture()


class TestToneSequenceTTSFixturePassesItsSuite(TTSEngineConformance):
    @pytest.fixture
    def backend(self) -> TTSEngine:
        return ToneSequenceTTSFixture()


# --- deliberately broken backends, each with one defect ------------------------------


class DropsLastFrameF0(PraatPitch):
    """Broken: returns ``len // hop`` frames, forgetting the contract's ``+ 1``."""

    name = "drops-last-frame"

    def extract_f0(self, samples: np.ndarray, sample_rate: int, **kwargs: Any) -> np.ndarray:
        return super().extract_f0(samples, sample_rate, **kwargs)[:-1]


class OctaveTooHighF0(PraatPitch):
    """Broken: reports every pitch an octave too high."""

    name = "octave-too-high"

    def extract_f0(self, samples: np.ndarray, sample_rate: int, **kwargs: Any) -> np.ndarray:
        return super().extract_f0(samples, sample_rate, **kwargs) * np.float32(2.0)


class VoicesSilenceF0(PraatPitch):
    """Broken: fills unvoiced frames with 100 Hz instead of 0."""

    name = "voices-silence"

    def extract_f0(self, samples: np.ndarray, sample_rate: int, **kwargs: Any) -> np.ndarray:
        f0 = super().extract_f0(samples, sample_rate, **kwargs)
        return np.where(f0 > 0, f0, np.float32(100.0)).astype(np.float32)


class IgnoresRangeF0(PraatPitch):
    """Broken: searches the default range whatever f0_min and f0_max the caller gives."""

    name = "ignores-range"

    def extract_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int = 160,
        f0_min: float = 50.0,
        f0_max: float = 1100.0,
    ) -> np.ndarray:
        return super().extract_f0(samples, sample_rate, hop_length=hop_length)


class Float64F0(PraatPitch):
    """Broken: returns float64."""

    name = "float64"

    def extract_f0(self, samples: np.ndarray, sample_rate: int, **kwargs: Any) -> np.ndarray:
        return super().extract_f0(samples, sample_rate, **kwargs).astype(np.float64)


class AlwaysMonoSeparator(DspCenterSeparator):
    """Broken: returns mono stems for stereo input."""

    name = "always-mono"

    def separate(self, audio: Audio) -> dict[str, Audio]:
        stems = super().separate(audio)
        return {name: stem.to_mono() for name, stem in stems.items()}


class UndeclaredStemSeparator(DspCenterSeparator):
    """Broken: returns a stem it does not declare."""

    name = "undeclared-stem"

    def separate(self, audio: Audio) -> dict[str, Audio]:
        stems = super().separate(audio)
        stems["Drums"] = stems["Instrumental"]
        return stems


class NoisySeparator(DspCenterSeparator):
    """Broken: adds a noise floor to every stem, so silence comes out as hiss."""

    name = "noisy"

    def separate(self, audio: Audio) -> dict[str, Audio]:
        stems = super().separate(audio)
        hiss = signals.white_noise(audio.duration, audio.sample_rate, audio.channels, level_db=-40)
        return {
            name: Audio(stem.samples + hiss.samples, stem.sample_rate)
            for name, stem in stems.items()
        }


class FrameRateOffEmbedder(LogMelEmbedderFixture):
    """Broken: 100 frames per second instead of 50."""

    name = "frame-rate-off"
    hop_length: ClassVar[int] = 160


class NondeterministicEmbedder(LogMelEmbedderFixture):
    """Broken: adds fresh random noise on every call."""

    name = "nondeterministic"

    def embed(self, samples: np.ndarray, *, layer: int = 12, project: bool = False) -> np.ndarray:
        features = super().embed(samples, layer=layer, project=project)
        return features + np.random.default_rng().standard_normal(features.shape).astype(np.float32)


class ConstantEmbedder(LogMelEmbedderFixture):
    """Broken: the same features whatever the input."""

    name = "constant"

    def embed(self, samples: np.ndarray, *, layer: int = 12, project: bool = False) -> np.ndarray:
        return np.ones((len(samples) // 320, self.mel_bands), dtype=np.float32)


class SilentOnEmptyTTS(ToneSequenceTTSFixture):
    """Broken: returns a moment of silence for empty text instead of an error."""

    name = "silent-on-empty"

    def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0) -> Audio:
        if not text:
            return Audio(np.zeros(100, np.float32), self.sample_rate)
        return super().synthesize(text, voice=voice, speed=speed)


class DefaultVoiceForUnknownTTS(ToneSequenceTTSFixture):
    """Broken: quietly uses the default voice when asked for one it doesn't have."""

    name = "default-voice-for-unknown"

    def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0) -> Audio:
        return super().synthesize(text, voice=voice if voice in self.base_hz else None, speed=speed)


class FixedLengthTTS(ToneSequenceTTSFixture):
    """Broken: always one second, however long the text."""

    name = "fixed-length"

    def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0) -> Audio:
        spoken = super().synthesize(text, voice=voice, speed=speed).samples[0]
        return Audio(np.resize(spoken, self.sample_rate), self.sample_rate)


class TrimmingEffect(Effect):
    """Broken: drops the last 10 ms."""

    name = "trimming"
    settings = (Setting("amount", float, 1.0, "Unused", minimum=0.0, maximum=1.0),)

    def apply(self, audio: Audio) -> Audio:
        return Audio(audio.samples[:, : -audio.sample_rate // 100], audio.sample_rate)


class ResamplingEffect(TrimmingEffect):
    """Broken: claims a different sample rate than it was given."""

    name = "resampling"

    def apply(self, audio: Audio) -> Audio:
        return Audio(audio.samples, 48000 if audio.sample_rate != 48000 else 44100)


class DividesByPeakEffect(TrimmingEffect):
    """Broken: normalises by the peak without checking for silence (0 / 0 = NaN)."""

    name = "divides-by-peak"

    def apply(self, audio: Audio) -> Audio:
        with np.errstate(invalid="ignore", divide="ignore"):
            return Audio(audio.samples / np.max(np.abs(audio.samples)), audio.sample_rate)


class AcceptsAnythingEffect(TrimmingEffect):
    """Broken: swallows unknown settings instead of refusing them."""

    name = "accepts-anything"

    def __init__(self, **options: Any) -> None:
        known = {s.name for s in self.settings}
        super().__init__(**{k: v for k, v in options.items() if k in known})

    def apply(self, audio: Audio) -> Audio:
        return audio


class IgnoresWeightsFusion(WeightedSumFusion):
    """Broken: always averages half and half."""

    name = "ignores-weights"

    def fuse(self, models: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
        return super().fuse(models, [1.0] * len(models))


class CastsToFloat32Fusion(WeightedSumFusion):
    """Broken: returns every floating tensor as float32, fp16 models double in size."""

    name = "casts-to-float32"

    def fuse(self, models: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
        fused = super().fuse(models, weights)
        return {k: v.float() if v.is_floating_point() else v for k, v in fused.items()}


class SkipsMismatchFusion(WeightedSumFusion):
    """Broken: blends only the tensors the models share, silently."""

    name = "skips-mismatch"

    def fuse(self, models: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
        shared = [
            name
            for name in models[0]
            if all(name in m and m[name].shape == models[0][name].shape for m in models)
        ]
        return super().fuse([{n: m[n] for n in shared} for m in models], weights)


# --- each broken backend fails the suite test that covers its defect -----------------

BROKEN_BACKENDS: list[tuple[type[Any], str, Any]] = [
    (F0ExtractorConformance, "test_frame_count_follows_contract", DropsLastFrameF0()),
    (F0ExtractorConformance, "test_harmonic_tones_are_measured_accurately", OctaveTooHighF0()),
    (F0ExtractorConformance, "test_other_sample_rates_and_hops", OctaveTooHighF0()),
    (F0ExtractorConformance, "test_real_speech", OctaveTooHighF0()),
    (F0ExtractorConformance, "test_silence_is_unvoiced", VoicesSilenceF0()),
    (F0ExtractorConformance, "test_real_speech", VoicesSilenceF0()),
    (F0ExtractorConformance, "test_pitch_range_is_respected", IgnoresRangeF0()),
    (F0ExtractorConformance, "test_output_is_float32_finite_and_non_negative", Float64F0()),
    (SeparatorConformance, "test_stems_are_shaped_like_the_input", AlwaysMonoSeparator()),
    (SeparatorConformance, "test_stems_are_shaped_like_the_input", UndeclaredStemSeparator()),
    (SeparatorConformance, "test_silence_in_silence_out", NoisySeparator()),
    (EmbedderConformance, "test_frames_and_dimension", FrameRateOffEmbedder()),
    (EmbedderConformance, "test_deterministic", NondeterministicEmbedder()),
    (EmbedderConformance, "test_different_input_gives_different_features", ConstantEmbedder()),
    (TTSEngineConformance, "test_empty_text_is_an_error", SilentOnEmptyTTS()),
    (TTSEngineConformance, "test_unknown_voice_is_an_error", DefaultVoiceForUnknownTTS()),
    (TTSEngineConformance, "test_longer_text_gives_longer_audio", FixedLengthTTS()),
    (EffectConformance, "test_keeps_rate_and_channels_and_length", TrimmingEffect()),
    (EffectConformance, "test_keeps_rate_and_channels_and_length", ResamplingEffect()),
    (EffectConformance, "test_silence_in_finite_out", DividesByPeakEffect()),
    (EffectConformance, "test_unknown_setting_is_refused", AcceptsAnythingEffect()),
    (
        FusionMethodConformance,
        "test_weights_one_and_zero_return_the_first_model",
        IgnoresWeightsFusion(),
    ),
    (FusionMethodConformance, "test_fusing_a_model_with_itself_returns_it", CastsToFloat32Fusion()),
    (
        FusionMethodConformance,
        "test_mismatched_shapes_are_an_error_naming_the_tensor",
        SkipsMismatchFusion(),
    ),
    (
        FusionMethodConformance,
        "test_mismatched_names_are_an_error_naming_the_tensor",
        SkipsMismatchFusion(),
    ),
]


@pytest.mark.parametrize(
    ("suite", "test_name", "broken_backend"),
    BROKEN_BACKENDS,
    ids=[f"{backend.name}-{test}" for _, test, backend in BROKEN_BACKENDS],
)
def test_suite_fails_a_broken_backend(
    suite: type[Any], test_name: str, broken_backend: Any
) -> None:
    # Most suite checks are asserts; those that expect an error use pytest.raises, whose
    # "DID NOT RAISE" is pytest's Failed. Anything else (a TypeError in the suite, say)
    # escapes and fails this test.
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        getattr(suite(), test_name)(broken_backend)
