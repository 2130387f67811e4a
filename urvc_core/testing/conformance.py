"""Conformance suites: the same contract tests for every backend of a kind.

A plugin's tests subclass the suite for its kind and provide a ``backend`` fixture that
returns an instance of the backend under test; every ``test_*`` method then runs
against it::

    import pytest
    from urvc_core.testing import F0ExtractorConformance
    from my_plugin import MyPitchTracker

    class TestMyPitchTracker(F0ExtractorConformance):
        max_median_cents = 30.0  # class attributes are the suite's tolerances

        @pytest.fixture
        def backend(self):
            return MyPitchTracker()

The suites feed real signals (harmonic tones, sweeps, the ARCTIC sentence, silence) and
assert numbers with tolerances, taken from what the built-in backends achieve. The
tolerances are class attributes so a backend with a documented weakness can relax one,
in plain sight, in its own test file.

Each test method takes only ``backend``, so a test can also call one directly on an
object to check that the suite catches a broken backend.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from urvc_core.backends import (
    Audio,
    Effect,
    Embedder,
    F0Extractor,
    FusionMethod,
    Separator,
    TTSEngine,
)
from urvc_core.errors import BackendError, InvalidSettingError, UrvcError
from urvc_core.testing import signals

#: A setting name no backend declares, for checking that unknown settings are refused.
UNKNOWN_SETTING = "no_such_setting_urvc_conformance"


def assert_audio_like(
    result: object, expected: Audio, what: str, *, at_least: bool = False
) -> None:
    """Assert ``result`` is float32, finite Audio with ``expected``'s rate, channels and length."""
    assert isinstance(result, Audio), f"{what}: expected Audio, got {type(result).__name__}"
    assert result.sample_rate == expected.sample_rate, (
        f"{what}: sample rate {result.sample_rate}, input was {expected.sample_rate}"
    )
    assert result.channels == expected.channels, (
        f"{what}: {result.channels} channels, input had {expected.channels}"
    )
    if at_least:
        assert result.num_samples >= expected.num_samples, (
            f"{what}: {result.num_samples} samples, shorter than the input's {expected.num_samples}"
        )
    else:
        assert result.num_samples == expected.num_samples, (
            f"{what}: {result.num_samples} samples, input had {expected.num_samples}"
        )
    assert result.samples.dtype == np.float32, f"{what}: dtype {result.samples.dtype}"
    assert np.all(np.isfinite(result.samples)), f"{what}: contains NaN or inf"


def stereo_test_input(sample_rate: int, channels: int, duration: float) -> Audio:
    """Music-like input: the centre-panned speech mix, cut to ``duration`` plus an odd tail.

    The odd 37 samples catch backends that silently assume whole frames or blocks.
    """
    mix = signals.centre_panned_speech_mix(sample_rate).mixture
    length = min(mix.num_samples, round(duration * sample_rate) + 37)
    samples = mix.samples[:, :length]
    if channels == 1:
        samples = samples.mean(axis=0, keepdims=True)
    return Audio(np.ascontiguousarray(samples), sample_rate)


class F0ExtractorConformance:
    """The :class:`~urvc_core.backends.F0Extractor` contract, checked with known pitches."""

    #: Median error allowed on steady harmonic tones, in cents.
    max_median_cents: ClassVar[float] = 25.0
    #: Share of a steady tone's frames that must be voiced.
    min_tone_voiced_fraction: ClassVar[float] = 0.8
    #: Share of digital silence's frames allowed to be voiced.
    max_silence_voiced_fraction: ClassVar[float] = 0.05
    #: Voiced share of the ARCTIC sentence: pm gives 0.42, dio 0.45, harvest 0.65.
    speech_voiced_fraction_range: ClassVar[tuple[float, float]] = (0.3, 0.9)
    #: Median pitch of the ARCTIC sentence's voiced frames: pm measures 125.9 Hz,
    #: dio 125.2 Hz, harvest 123.6 Hz. The tolerance (two semitones) allows for how
    #: methods differ at voicing edges and rejects any octave error.
    speech_median_f0_hz: ClassVar[float] = 125.0
    speech_median_tolerance_cents: ClassVar[float] = 200.0

    @pytest.fixture
    def backend(self) -> F0Extractor:
        pytest.fail("Define a `backend` fixture returning the F0Extractor under test.")

    def test_is_an_f0_extractor(self, backend: F0Extractor) -> None:
        assert isinstance(backend, F0Extractor)
        assert backend.name, "the backend has no name"

    def test_frame_count_follows_contract(self, backend: F0Extractor) -> None:
        cases = [
            # (sample rate, hop, number of samples)
            (16000, 160, 16000),
            (16000, 160, 16037),
            (16000, 160, 8159),
            (16000, 320, 12000),
            (44100, 441, 22050),
            (44100, 512, 30011),
            (22050, 256, 11025),
        ]
        for sample_rate, hop, length in cases:
            tone = signals.harmonic_tone(220.0, length / sample_rate, sample_rate)
            f0 = backend.extract_f0(tone.samples[0], sample_rate, hop_length=hop)
            expected = length // hop + 1
            assert f0.shape == (expected,), (
                f"{length} samples at {sample_rate} Hz with hop {hop}: got shape {f0.shape}, "
                f"the contract says ({expected},) (len // hop + 1)"
            )

    def test_output_is_float32_finite_and_non_negative(self, backend: F0Extractor) -> None:
        speech = signals.speech(16000)
        f0 = backend.extract_f0(speech.samples[0], 16000)
        assert f0.dtype == np.float32, f"dtype {f0.dtype}, expected float32"
        assert np.all(np.isfinite(f0)), "pitch contains NaN or inf"
        assert np.all(f0 >= 0), f"negative pitch values: {f0[f0 < 0][:5]}"

    def test_harmonic_tones_are_measured_accurately(self, backend: F0Extractor) -> None:
        for frequency in (110.0, 220.0, 440.0):
            tone = signals.harmonic_tone(frequency, 1.0, 16000)
            f0 = backend.extract_f0(tone.samples[0], 16000)
            voiced = signals.voiced_fraction(f0)
            assert voiced >= self.min_tone_voiced_fraction, (
                f"{frequency:g} Hz tone: only {voiced:.0%} of frames voiced"
            )
            errors = signals.cents_error(f0, np.full(len(f0), frequency))
            median = float(np.median(errors))
            assert median < self.max_median_cents, (
                f"{frequency:g} Hz tone: median error {median:.1f} cents "
                f"(allowed {self.max_median_cents:g}); median pitch {np.median(f0[f0 > 0]):.1f} Hz"
            )

    def test_other_sample_rates_and_hops(self, backend: F0Extractor) -> None:
        for sample_rate, hop in ((44100, 441), (44100, 512), (22050, 256), (48000, 480)):
            tone = signals.harmonic_tone(220.0, 1.0, sample_rate)
            f0 = backend.extract_f0(tone.samples[0], sample_rate, hop_length=hop)
            assert signals.voiced_fraction(f0) >= self.min_tone_voiced_fraction, (
                f"220 Hz tone at {sample_rate} Hz, hop {hop}: "
                f"only {signals.voiced_fraction(f0):.0%} of frames voiced"
            )
            median = float(np.median(signals.cents_error(f0, np.full(len(f0), 220.0))))
            assert median < self.max_median_cents, (
                f"220 Hz tone at {sample_rate} Hz, hop {hop}: median error {median:.1f} cents"
            )

    def test_silence_is_unvoiced(self, backend: F0Extractor) -> None:
        f0 = backend.extract_f0(signals.silence(1.0, 16000).samples[0], 16000)
        voiced = signals.voiced_fraction(f0)
        assert voiced <= self.max_silence_voiced_fraction, (
            f"{voiced:.0%} of the frames of digital silence are voiced"
        )

    def test_pitch_range_is_respected(self, backend: F0Extractor) -> None:
        low_tone = signals.harmonic_tone(100.0, 1.0, 16000).samples[0]
        f0 = backend.extract_f0(low_tone, 16000, f0_min=150.0)
        too_low = f0[(f0 > 0) & (f0 < 150.0)]
        assert len(too_low) == 0, (
            f"100 Hz tone with f0_min=150: voiced values below 150 Hz: {too_low[:5]}"
        )
        high_tone = signals.harmonic_tone(440.0, 1.0, 16000).samples[0]
        f0 = backend.extract_f0(high_tone, 16000, f0_max=300.0)
        assert np.all(f0 <= 300.0), (
            f"440 Hz tone with f0_max=300: voiced values above 300 Hz: {f0[f0 > 300][:5]}"
        )
        sweep = signals.sweep(80.0, 900.0, 1.0, 16000).audio.samples[0]
        f0 = backend.extract_f0(sweep, 16000, f0_min=120.0, f0_max=600.0)
        voiced = f0[f0 > 0]
        assert np.all((voiced >= 120.0) & (voiced <= 600.0)), (
            f"sweep with range 120-600 Hz: voiced values from {voiced.min():.1f} to "
            f"{voiced.max():.1f} Hz"
        )

    def test_real_speech(self, backend: F0Extractor) -> None:
        f0 = backend.extract_f0(signals.speech(16000).samples[0], 16000)
        low, high = self.speech_voiced_fraction_range
        voiced = signals.voiced_fraction(f0)
        assert low <= voiced <= high, (
            f"ARCTIC sentence: {voiced:.0%} of frames voiced, expected {low:.0%} to {high:.0%}"
        )
        median = float(np.median(f0[f0 > 0]))
        off_by = abs(1200.0 * np.log2(median / self.speech_median_f0_hz))
        assert off_by <= self.speech_median_tolerance_cents, (
            f"ARCTIC sentence: median pitch {median:.1f} Hz, expected about "
            f"{self.speech_median_f0_hz:g} Hz ({off_by:.0f} cents off)"
        )

    def test_input_is_left_unchanged(self, backend: F0Extractor) -> None:
        samples = signals.harmonic_tone(220.0, 0.5, 16000).samples[0]
        original = samples.copy()
        backend.extract_f0(samples, 16000)
        assert np.array_equal(samples, original), "extract_f0 modified its input array"

    def test_bad_arguments_are_refused_with_a_clear_error(self, backend: F0Extractor) -> None:
        tone = signals.harmonic_tone(220.0, 0.2, 16000).samples[0]
        bad_calls = {
            "stereo samples": lambda: backend.extract_f0(np.stack([tone, tone]), 16000),
            "integer samples": lambda: backend.extract_f0((tone * 32767).astype(np.int16), 16000),
            "a zero sample rate": lambda: backend.extract_f0(tone, 0),
            "a zero hop": lambda: backend.extract_f0(tone, 16000, hop_length=0),
            "f0_min above f0_max": lambda: backend.extract_f0(
                tone, 16000, f0_min=500.0, f0_max=200.0
            ),
        }
        for what, call in bad_calls.items():
            try:
                call()
            except BackendError as error:
                # A crash deep inside, wrapped: the arguments were not checked.
                pytest.fail(f"{what}: extract_f0 was not refused up front but failed: {error}")
            except UrvcError:
                continue
            pytest.fail(f"{what}: extract_f0 raised no UrvcError")

    def test_empty_input_is_one_unvoiced_frame(self, backend: F0Extractor) -> None:
        f0 = backend.extract_f0(np.zeros(0, dtype=np.float32), 16000)
        assert f0.dtype == np.float32 and f0.shape == (1,) and f0[0] == 0, (
            f"empty input gave {f0!r}; the contract says one unvoiced frame"
        )


class SeparatorConformance:
    """The :class:`~urvc_core.backends.Separator` contract: declared stems, shaped as the input."""

    sample_rates: ClassVar[tuple[int, ...]] = (44100, 16000)
    channel_counts: ClassVar[tuple[int, ...]] = (1, 2)
    #: Seconds of audio fed to the backend per check (plus an odd 37 samples).
    duration: ClassVar[float] = 2.0
    #: Highest RMS level a stem of silent input may have.
    max_stem_db_for_silence: ClassVar[float] = -60.0

    @pytest.fixture
    def backend(self) -> Separator:
        pytest.fail("Define a `backend` fixture returning the Separator under test.")

    def test_declares_its_stems(self, backend: Separator) -> None:
        assert isinstance(backend, Separator)
        stems = tuple(backend.stems)
        assert stems, "the separator declares no stems"
        assert all(isinstance(s, str) and s for s in stems), f"stem names must be text: {stems}"
        assert len(set(stems)) == len(stems), f"stem names repeat: {stems}"

    def test_stems_are_shaped_like_the_input(self, backend: Separator) -> None:
        for sample_rate in self.sample_rates:
            for channels in self.channel_counts:
                mixture = stereo_test_input(sample_rate, channels, self.duration)
                stems = backend.separate(mixture)
                where = f"{channels}-channel input at {sample_rate} Hz"
                assert set(stems) == set(backend.stems), (
                    f"{where}: returned stems {sorted(stems)}, declared {list(backend.stems)}"
                )
                for stem_name, stem in stems.items():
                    assert_audio_like(stem, mixture, f"{where}, stem {stem_name!r}")

    def test_silence_in_silence_out(self, backend: Separator) -> None:
        quiet = signals.silence(self.duration, 44100, channels=2)
        for stem_name, stem in backend.separate(quiet).items():
            assert_audio_like(stem, quiet, f"silent input, stem {stem_name!r}")
            level = signals.rms_db(stem.samples)
            assert level <= self.max_stem_db_for_silence, (
                f"silent input gives stem {stem_name!r} at {level:.1f} dBFS"
            )

    def test_input_is_left_unchanged(self, backend: Separator) -> None:
        mixture = stereo_test_input(44100, 2, 1.0)
        original = mixture.samples.copy()
        backend.separate(mixture)
        assert np.array_equal(mixture.samples, original), "separate modified its input"


class EmbedderConformance:
    """The :class:`~urvc_core.backends.Embedder` contract: 50 frames/s of finite features."""

    #: Feature dimension the backend returns with ``layer`` and ``project`` below
    #: (HuBERT base and ContentVec: 768; projected v1 features: 256).
    dim: ClassVar[int] = 768
    layer: ClassVar[int] = 12
    project: ClassVar[bool] = False
    #: Largest absolute difference tolerated between two runs on the same input.
    determinism_tolerance: ClassVar[float] = 1e-4

    @pytest.fixture
    def backend(self) -> Embedder:
        pytest.fail("Define a `backend` fixture returning the Embedder under test.")

    def embed(self, backend: Embedder, samples: np.ndarray) -> np.ndarray:
        return backend.embed(samples, layer=self.layer, project=self.project)

    def test_is_an_embedder_at_16k(self, backend: Embedder) -> None:
        assert isinstance(backend, Embedder)
        assert backend.sample_rate == 16000, "content features are defined on 16 kHz audio"

    def test_frames_and_dimension(self, backend: Embedder) -> None:
        speech = signals.speech(16000).samples[0]
        for length in (8000, 16000, 16160, 24037):
            features = self.embed(backend, speech[:length])
            expected_frames = length // 320
            assert features.ndim == 2, f"{length} samples: features shaped {features.shape}"
            frames, dim = features.shape
            assert abs(frames - expected_frames) <= 1, (
                f"{length} samples: {frames} frames, expected {expected_frames} ± 1 (len // 320)"
            )
            assert dim == self.dim, f"feature dimension {dim}, expected {self.dim}"

    def test_features_are_float32_and_finite(self, backend: Embedder) -> None:
        features = self.embed(backend, signals.speech(16000).samples[0])
        assert features.dtype == np.float32, f"dtype {features.dtype}, expected float32"
        assert np.all(np.isfinite(features)), "features contain NaN or inf"

    def test_deterministic(self, backend: Embedder) -> None:
        speech = signals.speech(16000).samples[0][:32000]
        first = self.embed(backend, speech)
        second = self.embed(backend, speech.copy())
        difference = float(np.max(np.abs(first - second)))
        assert difference <= self.determinism_tolerance, (
            f"two runs on the same input differ by up to {difference:g}"
        )

    def test_different_input_gives_different_features(self, backend: Embedder) -> None:
        speech = signals.speech(16000).samples[0][:32000]
        tone = signals.harmonic_tone(220.0, 2.0, 16000).samples[0]
        from_speech = self.embed(backend, speech)
        from_tone = self.embed(backend, tone)
        frames = min(len(from_speech), len(from_tone))
        difference = float(np.linalg.norm(from_speech[:frames] - from_tone[:frames]))
        scale = float(np.linalg.norm(from_speech[:frames]))
        assert difference > 0.01 * scale, (
            "speech and a tone give (nearly) the same features: "
            f"difference {difference:g} against a feature norm of {scale:g}"
        )


class TTSEngineConformance:
    """The :class:`~urvc_core.backends.TTSEngine` contract: mono speech, errors for bad input."""

    #: The rate the engine promises. ``None``: use the backend's ``sample_rate``
    #: attribute if it has one, else only require the same rate on every call.
    sample_rate: ClassVar[int | None] = None
    short_text: ClassVar[str] = "Hello."
    long_text: ClassVar[str] = (
        "Hello. This sentence is a good deal longer than the first one, "
        "so it takes a good deal longer to say."
    )

    @pytest.fixture
    def backend(self) -> TTSEngine:
        pytest.fail("Define a `backend` fixture returning the TTSEngine under test.")

    def expected_sample_rate(self, backend: TTSEngine) -> int | None:
        if self.sample_rate is not None:
            return self.sample_rate
        declared = getattr(backend, "sample_rate", None)
        return int(declared) if declared is not None else None

    def assert_speech(self, audio: object, backend: TTSEngine, what: str) -> Audio:
        assert isinstance(audio, Audio), f"{what}: expected Audio, got {type(audio).__name__}"
        assert audio.channels == 1, f"{what}: {audio.channels} channels, expected mono"
        assert audio.num_samples > 0, f"{what}: no samples"
        assert np.all(np.isfinite(audio.samples)), f"{what}: contains NaN or inf"
        peak = float(np.max(np.abs(audio.samples)))
        assert 0 < peak <= 1.0, f"{what}: peak {peak:g}, expected sound within [-1, 1]"
        rate = self.expected_sample_rate(backend)
        if rate is not None:
            assert audio.sample_rate == rate, f"{what}: {audio.sample_rate} Hz, declared {rate} Hz"
        return audio

    def test_lists_voices(self, backend: TTSEngine) -> None:
        assert isinstance(backend, TTSEngine)
        voices = backend.voices()
        assert voices, "the engine lists no voices"
        assert all(isinstance(v, str) and v for v in voices), f"voice names must be text: {voices}"

    def test_speaks_text(self, backend: TTSEngine) -> None:
        default = self.assert_speech(backend.synthesize(self.short_text), backend, "default voice")
        first_voice = backend.voices()[0]
        named = self.assert_speech(
            backend.synthesize(self.short_text, voice=first_voice),
            backend,
            f"voice {first_voice!r}",
        )
        assert named.sample_rate == default.sample_rate, (
            f"voice {first_voice!r} speaks at {named.sample_rate} Hz, the default at "
            f"{default.sample_rate} Hz"
        )

    def test_longer_text_gives_longer_audio(self, backend: TTSEngine) -> None:
        short = backend.synthesize(self.short_text)
        long = backend.synthesize(self.long_text)
        assert long.duration > short.duration, (
            f"{len(self.long_text)} characters took {long.duration:.2f} s, "
            f"{len(self.short_text)} characters {short.duration:.2f} s"
        )

    def test_empty_text_is_an_error(self, backend: TTSEngine) -> None:
        with pytest.raises(UrvcError):
            backend.synthesize("")

    def test_unknown_voice_is_an_error(self, backend: TTSEngine) -> None:
        with pytest.raises(UrvcError):
            backend.synthesize(self.short_text, voice="no-such-voice-urvc-conformance")


class EffectConformance:
    """The :class:`~urvc_core.backends.Effect` contract: same rate and channels, never shorter."""

    sample_rates: ClassVar[tuple[int, ...]] = (44100, 16000)
    channel_counts: ClassVar[tuple[int, ...]] = (1, 2)
    duration: ClassVar[float] = 1.0

    @pytest.fixture
    def backend(self) -> Effect:
        pytest.fail("Define a `backend` fixture returning the Effect under test.")

    def test_default_settings_construct(self, backend: Effect) -> None:
        assert isinstance(backend, Effect)
        effect = type(backend)()
        assert set(effect.options) == {s.name for s in type(backend).settings}

    def test_unknown_setting_is_refused(self, backend: Effect) -> None:
        with pytest.raises(InvalidSettingError):
            type(backend)(**{UNKNOWN_SETTING: 1})

    def test_keeps_rate_and_channels_and_length(self, backend: Effect) -> None:
        for sample_rate in self.sample_rates:
            for channels in self.channel_counts:
                audio = stereo_test_input(sample_rate, channels, self.duration)
                result = backend.apply(audio)
                assert_audio_like(
                    result, audio, f"{channels}-channel input at {sample_rate} Hz", at_least=True
                )

    def test_silence_in_finite_out(self, backend: Effect) -> None:
        quiet = signals.silence(self.duration, 44100, channels=2)
        assert_audio_like(backend.apply(quiet), quiet, "silent input", at_least=True)

    def test_input_is_left_unchanged(self, backend: Effect) -> None:
        audio = stereo_test_input(44100, 2, self.duration)
        original = audio.samples.copy()
        backend.apply(audio)
        assert np.array_equal(audio.samples, original), "apply modified its input"


def small_voice_model(seed: int) -> dict[str, Any]:
    """A state dict shaped like a (tiny) RVC generator: fp32 and fp16 weights, an int buffer."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return {
        "emb_g.weight": torch.randn(4, 16, generator=generator),
        "enc_p.emb_phone.weight": torch.randn(16, 24, generator=generator),
        "dec.conv_pre.weight": torch.randn(8, 16, 7, generator=generator).half(),
        "dec.conv_pre.bias": torch.randn(8, generator=generator).half(),
        "flow.flows.0.enc.num_layers": torch.tensor(3, dtype=torch.int64),
    }


class FusionMethodConformance:
    """The :class:`~urvc_core.backends.FusionMethod` contract: layout kept, mismatches refused."""

    @pytest.fixture
    def backend(self) -> FusionMethod:
        pytest.fail("Define a `backend` fixture returning the FusionMethod under test.")

    @staticmethod
    def assert_same_model(result: dict[str, Any], expected: dict[str, Any], what: str) -> None:
        import torch

        assert set(result) == set(expected), (
            f"{what}: tensor names {sorted(result)}, expected {sorted(expected)}"
        )
        for name, tensor in expected.items():
            fused = result[name]
            assert isinstance(fused, torch.Tensor), f"{what}: {name!r} is not a tensor"
            assert fused.shape == tensor.shape, f"{what}: {name!r} shaped {tuple(fused.shape)}"
            assert fused.dtype == tensor.dtype, (
                f"{what}: {name!r} is {fused.dtype}, was {tensor.dtype}"
            )
            difference = (fused.double() - tensor.double()).abs().max()
            close = torch.allclose(fused.double(), tensor.double(), rtol=1e-3, atol=1e-5)
            assert close, f"{what}: {name!r} differs by up to {difference:g}"

    def test_fusing_a_model_with_itself_returns_it(self, backend: FusionMethod) -> None:
        assert isinstance(backend, FusionMethod)
        model = small_voice_model(0)
        for weights in ((0.5, 0.5), (0.3, 0.7)):
            result = backend.fuse([model, small_voice_model(0)], weights)
            self.assert_same_model(result, model, f"a model fused with itself at {weights}")

    def test_weights_one_and_zero_return_the_first_model(self, backend: FusionMethod) -> None:
        first, second = small_voice_model(1), small_voice_model(2)
        result = backend.fuse([first, second], (1.0, 0.0))
        self.assert_same_model(result, first, "weights (1, 0)")

    def test_keeps_names_shapes_and_dtypes(self, backend: FusionMethod) -> None:
        first, second = small_voice_model(1), small_voice_model(2)
        result = backend.fuse([first, second], (0.4, 0.6))
        assert list(result) == list(first), f"tensor names changed: {list(result)}"
        for name, tensor in first.items():
            assert result[name].shape == tensor.shape, f"{name!r} changed shape"
            assert result[name].dtype == tensor.dtype, f"{name!r} changed dtype"
        assert not result["emb_g.weight"].equal(first["emb_g.weight"]), (
            "weights (0.4, 0.6) returned the first model unchanged"
        )

    def test_mismatched_shapes_are_an_error_naming_the_tensor(self, backend: FusionMethod) -> None:
        import torch

        first, second = small_voice_model(1), small_voice_model(2)
        second["enc_p.emb_phone.weight"] = torch.randn(16, 32)
        with pytest.raises(UrvcError, match=r"enc_p\.emb_phone\.weight"):
            backend.fuse([first, second], (0.5, 0.5))

    def test_mismatched_names_are_an_error_naming_the_tensor(self, backend: FusionMethod) -> None:
        first, second = small_voice_model(1), small_voice_model(2)
        second["dec.conv_post.weight"] = second.pop("dec.conv_pre.weight")
        with pytest.raises(UrvcError, match=r"dec\.conv_p(re|ost)\.weight"):
            backend.fuse([first, second], (0.5, 0.5))
