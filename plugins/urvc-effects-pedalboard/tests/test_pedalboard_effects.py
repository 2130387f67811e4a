"""Each effect does what it is for, measured on real pedalboard with speech, tones and noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from urvc_effects_pedalboard.streaming import TAIL_FLOOR_DB, stream_through_plugin

from urvc_core import Audio, Effect, get_backend, save_audio
from urvc_core.errors import InvalidSettingError
from urvc_core.testing import signals

RATE = 44100


def effect(name: str, **settings: object) -> Effect:
    created = get_backend("effect", name, **settings)
    assert isinstance(created, Effect)
    return created


def sine(frequency: float, seconds: float = 1.0, rate: int = RATE, level_db: float = -6.0) -> Audio:
    time = np.arange(round(seconds * rate)) / rate
    amplitude = 10 ** (level_db / 20)
    return Audio((amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32), rate)


def steady_db(audio: Audio, skip_seconds: float = 0.2) -> float:
    """RMS level once a filter's start-up transient has passed."""
    return signals.rms_db(audio.samples[:, round(skip_seconds * audio.sample_rate) :])


def level_change_db(name: str, audio: Audio, **settings: object) -> float:
    return steady_db(effect(name, **settings).apply(audio)) - steady_db(audio)


def speech() -> Audio:
    return signals.speech(RATE)


def crest_factor_db(samples: np.ndarray) -> float:
    return 20 * np.log10(np.max(np.abs(samples))) - signals.rms_db(samples)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    windowed = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed, 8 * len(samples)))
    return float(np.fft.rfftfreq(8 * len(samples), 1 / rate)[np.argmax(spectrum)])


# -- level and dynamics ---------------------------------------------------------------


def test_gain_of_minus_6_db_lowers_rms_by_6_db() -> None:
    voice = speech()
    quieter = effect("gain", gain_db=-6).apply(voice)
    assert quieter.num_samples == voice.num_samples
    change = signals.rms_db(quieter.samples) - signals.rms_db(voice.samples)
    assert change == pytest.approx(-6.0, abs=0.1)


def test_compressor_reduces_the_crest_factor_of_speech() -> None:
    voice = speech()
    compressed = effect("compressor", threshold_db=-30, ratio=8, attack_ms=1).apply(voice)
    before, after = crest_factor_db(voice.samples), crest_factor_db(compressed.samples)
    assert after < before - 3.0, (before, after)


def test_limiter_keeps_every_peak_under_its_ceiling() -> None:
    hot = effect("gain", gain_db=12).apply(speech())
    assert np.max(np.abs(hot.samples)) > 1.0
    limited = effect("limiter", ceiling_db=-3).apply(hot)
    assert np.max(np.abs(limited.samples)) <= 10 ** (-3 / 20) + 1e-6
    # A limiter, not a fader: the body of the speech stays near its level.
    assert signals.rms_db(limited.samples) > signals.rms_db(hot.samples) - 6.0


def test_noise_gate_silences_low_level_noise_between_loud_bursts() -> None:
    burst = sine(440, 0.4, level_db=-6).samples[0]
    hiss = signals.white_noise(0.6, RATE, level_db=-60, seed=3).samples[0]
    track = Audio(np.concatenate([burst, hiss, burst, hiss, burst]), RATE)
    gated = effect("noise-gate", threshold_db=-40, ratio=20, release_ms=30).apply(track)
    gap = slice(round(0.55 * RATE), round(0.95 * RATE))  # the noise, past the release
    held = slice(round(0.05 * RATE), round(0.35 * RATE))  # the first burst
    assert signals.rms_db(gated.samples[:, gap]) < signals.rms_db(track.samples[:, gap]) - 20
    assert signals.rms_db(gated.samples[:, held]) == pytest.approx(
        signals.rms_db(track.samples[:, held]), abs=0.5
    )


def test_clipping_cuts_the_waveform_at_its_threshold() -> None:
    clipped = effect("clipping", threshold_db=-12).apply(sine(220, level_db=0))
    assert np.max(np.abs(clipped.samples)) == pytest.approx(10 ** (-12 / 20), rel=1e-3)


def test_distortion_adds_harmonics_to_a_pure_tone() -> None:
    tone = sine(220, level_db=-6)
    distorted = effect("distortion", drive_db=20).apply(tone)
    spectrum = np.abs(np.fft.rfft(distorted.samples[0] * np.hanning(RATE)))
    third = spectrum[660 - 3 : 660 + 4].max() / spectrum[220 - 3 : 220 + 4].max()
    assert 20 * np.log10(third) > -30  # a clean sine has none


# -- filters and EQ -------------------------------------------------------------------


def test_highpass_at_1_khz_removes_100_hz_and_keeps_5_khz() -> None:
    settings = {"cutoff_frequency_hz": 1000, "slope_db_per_octave": 12}
    assert level_change_db("highpass", sine(100), **settings) <= -30.0
    assert level_change_db("highpass", sine(5000), **settings) == pytest.approx(0.0, abs=1.0)


def test_lowpass_at_1_khz_removes_10_khz_and_keeps_100_hz() -> None:
    settings = {"cutoff_frequency_hz": 1000, "slope_db_per_octave": 12}
    assert level_change_db("lowpass", sine(10000), **settings) <= -30.0
    assert level_change_db("lowpass", sine(100), **settings) == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize("slope", [6, 12, 18, 24])
@pytest.mark.parametrize("name", ["highpass", "lowpass"])
def test_filters_are_3_db_down_at_their_cutoff_whatever_the_slope(name: str, slope: int) -> None:
    change = level_change_db(name, sine(1000), cutoff_frequency_hz=1000, slope_db_per_octave=slope)
    assert change == pytest.approx(-3.0, abs=0.3)


def test_a_cutoff_the_sample_rate_cannot_hold_is_refused_naming_the_limit() -> None:
    low_rate = sine(440, rate=16000)
    with pytest.raises(InvalidSettingError, match=r"lowpass.*16000 Hz.*at most \d+ Hz"):
        effect("lowpass", cutoff_frequency_hz=7000, slope_db_per_octave=12).apply(low_rate)


def test_peak_filter_boosts_its_band_and_leaves_the_rest() -> None:
    settings = {"cutoff_frequency_hz": 1000, "gain_db": 6, "q": 2}
    assert level_change_db("peak", sine(1000), **settings) == pytest.approx(6.0, abs=0.3)
    assert level_change_db("peak", sine(100), **settings) == pytest.approx(0.0, abs=0.3)


def test_shelves_change_their_side_of_the_spectrum_only() -> None:
    assert level_change_db(
        "high-shelf", sine(10000), cutoff_frequency_hz=2000, gain_db=-6
    ) == pytest.approx(-6.0, abs=0.5)
    assert level_change_db(
        "high-shelf", sine(100), cutoff_frequency_hz=2000, gain_db=-6
    ) == pytest.approx(0.0, abs=0.5)
    assert level_change_db(
        "low-shelf", sine(60), cutoff_frequency_hz=500, gain_db=6
    ) == pytest.approx(6.0, abs=0.5)
    assert level_change_db(
        "low-shelf", sine(8000), cutoff_frequency_hz=500, gain_db=6
    ) == pytest.approx(0.0, abs=0.5)


def test_ladder_filter_24_db_low_pass_removes_what_lies_above() -> None:
    settings = {"mode": "lpf24", "cutoff_hz": 500}
    assert level_change_db("ladder-filter", sine(5000, level_db=-20), **settings) < -40.0
    assert level_change_db("ladder-filter", sine(100, level_db=-20), **settings) > -3.0


# -- time-based -----------------------------------------------------------------------


def test_reverb_adds_a_tail_after_the_input_ends() -> None:
    burst = signals.white_noise(0.5, RATE, channels=2, level_db=-12, seed=1)
    reverberated = effect("reverb", room_size=0.8, wet_level=0.4).apply(burst)
    tail = reverberated.samples[:, burst.num_samples :]
    assert tail.shape[1] > 0.2 * RATE
    tail_energy_db = 10 * np.log10(np.sum(tail.astype(np.float64) ** 2))
    input_energy_db = 10 * np.log10(np.sum(burst.samples.astype(np.float64) ** 2))
    assert tail_energy_db - input_energy_db > -60.0
    # It stops where the tail has died away, not at its 10 s cap.
    assert tail.shape[1] < 10 * RATE
    assert 20 * np.log10(np.max(np.abs(tail[:, -100:]))) < TAIL_FLOOR_DB + 6


def test_delay_echo_appears_at_the_set_time_even_past_the_end() -> None:
    click = np.zeros(round(0.2 * RATE), dtype=np.float32)
    click[round(0.1 * RATE)] = 0.8
    echoed = effect("delay", delay_seconds=0.3, mix=0.5).apply(Audio(click, RATE))
    samples = np.abs(echoed.samples[0])
    assert echoed.num_samples > round(0.4 * RATE)  # the echo lies beyond the input's end
    after_click = round(0.15 * RATE)
    echo_at = (after_click + int(np.argmax(samples[after_click:]))) / RATE
    assert echo_at == pytest.approx(0.4, abs=0.001)


def test_convolution_plays_the_input_through_the_impulse_response(tmp_path: Path) -> None:
    response = np.zeros(round(0.25 * RATE), dtype=np.float32)
    response[round(0.2 * RATE)] = 1.0  # an echo 200 ms later, and nothing else
    path = save_audio(Audio(response, RATE), tmp_path / "echo.wav")
    voice = speech()
    convolved = effect("convolution", impulse_response=str(path)).apply(voice)
    lag = round(0.2 * RATE)
    assert convolved.num_samples > voice.num_samples + lag - round(0.05 * RATE)
    delayed = convolved.samples[0, lag : voice.num_samples]
    original = voice.samples[0, : voice.num_samples - lag]
    correlation = np.corrcoef(delayed, original)[0, 1]
    assert correlation > 0.99


def test_chorus_and_phaser_colour_the_sound_and_keep_its_level() -> None:
    voice = speech()
    for name in ("chorus", "phaser"):
        coloured = effect(name).apply(voice)
        assert coloured.num_samples >= voice.num_samples
        difference = coloured.samples[:, : voice.num_samples] - voice.samples
        assert signals.rms_db(difference) > signals.rms_db(voice.samples) - 30, name
        assert signals.rms_db(coloured.samples) == pytest.approx(
            signals.rms_db(voice.samples), abs=6
        )


# -- lo-fi ----------------------------------------------------------------------------


def test_bitcrush_leaves_only_the_levels_its_bit_depth_has() -> None:
    crushed = effect("bitcrush", bit_depth=4).apply(speech()).samples
    steps = crushed * 2**4  # 4 bits: multiples of 1/16 only
    assert np.array_equal(steps, np.round(steps))
    assert len(np.unique(crushed)) > 8


@pytest.mark.parametrize(
    ("name", "settings"),
    [("resample", {"target_sample_rate": 8000}), ("gsm-compressor", {})],
)
def test_narrowband_effects_remove_what_8_khz_audio_cannot_hold(
    name: str, settings: dict[str, object]
) -> None:
    assert level_change_db(name, sine(6000), **settings) < -20.0
    assert level_change_db(name, sine(440), **settings) > -3.0


def test_mp3_compressor_works_at_rates_mp3_does_not_have() -> None:
    rvc_rate = 40000  # RVC's own rate; MPEG audio has no 40 kHz
    voice = signals.speech(rvc_rate)
    coded = effect("mp3-compressor", vbr_quality=2).apply(voice)
    assert coded.num_samples == voice.num_samples
    assert signals.sdr_db(voice.samples, coded.samples) > 10.0


@pytest.mark.parametrize("name", ["mp3-compressor", "resample", "limiter", "gsm-compressor"])
def test_effects_with_latency_stay_aligned_with_their_input(name: str) -> None:
    voice = speech()
    processed = effect(name).apply(voice).samples[0]
    reference = voice.samples[0]
    spectrum = np.fft.rfft(processed, 2 * len(reference)) * np.conj(
        np.fft.rfft(reference, 2 * len(reference))
    )
    correlation = np.fft.irfft(spectrum)
    lag = int(np.argmax(correlation))
    lag = lag if lag < len(reference) else lag - 2 * len(reference)
    assert abs(lag) <= 2, f"{name} output is {lag} samples off the input"


# -- pitch ----------------------------------------------------------------------------


def test_pitch_shift_of_12_moves_f0_an_octave_and_keeps_the_length() -> None:
    harvest = get_backend("f0", "harvest")
    voice = signals.speech(16000)
    shifted = effect("pitch-shift", semitones=12).apply(voice)
    assert shifted.num_samples == voice.num_samples
    before = harvest.extract_f0(voice.samples[0], 16000)  # type: ignore[attr-defined]
    after = harvest.extract_f0(shifted.samples[0], 16000)  # type: ignore[attr-defined]
    both = (before > 0) & (after > 0)
    assert both.mean() > 0.5  # the shifted voice is still a voice, voiced where it was
    moved_cents = np.median(1200 * np.log2(after[both] / before[both]))
    assert moved_cents == pytest.approx(1200, abs=25)


def test_pitch_shift_moves_a_tone_by_the_semitones_asked() -> None:
    tone = signals.harmonic_tone(220.0, 1.0, RATE, harmonics=1)
    shifted = effect("pitch-shift", semitones=-5).apply(tone)
    measured = dominant_frequency(shifted.samples[0, RATE // 4 : 3 * RATE // 4], RATE)
    assert 1200 * np.log2(measured / (220.0 * 2 ** (-5 / 12))) == pytest.approx(0, abs=10)


# -- streaming ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin_name", "settings"),
    [
        ("Distortion", {"drive_db": 12.0}),  # stateless
        ("Compressor", {"threshold_db": -30.0, "ratio": 6.0}),  # an envelope follower
        ("Reverb", {"room_size": 0.7}),  # long internal state
        ("MP3Compressor", {}),  # latency
    ],
)
def test_streaming_in_blocks_equals_processing_in_one_go(
    plugin_name: str, settings: dict[str, float]
) -> None:
    import pedalboard

    voice = signals.centre_panned_speech_mix(RATE).mixture
    whole = getattr(pedalboard, plugin_name)(**settings).process(voice.samples, RATE)
    for block_size in (8192, 1000):
        plugin = getattr(pedalboard, plugin_name)(**settings)
        streamed = stream_through_plugin(plugin, voice, block_size=block_size)
        assert streamed.samples.shape == whole.shape
        assert np.max(np.abs(streamed.samples - whole)) < 1e-5, (plugin_name, block_size)


def test_streaming_reports_progress_up_to_the_end() -> None:
    import pedalboard

    seen: list[float] = []
    stream_through_plugin(pedalboard.Gain(gain_db=-3), speech(), progress=seen.append)
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] == 1.0


def test_a_plugin_that_never_gives_its_output_back_is_an_error_not_a_hang() -> None:
    class HoldsEverything:  # stands in for a broken plugin: what is tested is the guard
        def reset(self) -> None:
            pass

        def process(self, block: np.ndarray, *_: object, **__: object) -> np.ndarray:
            return np.zeros((block.shape[0], 0), dtype=np.float32)

    with pytest.raises(RuntimeError, match="gave back 0 of 176400 samples"):
        stream_through_plugin(HoldsEverything(), speech())
