"""The engine's whole-song steps, worked through a block at a time so that a long song's
memory stays flat, give the numbers of the whole-array computations they replace."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from urvc_core.rvc import conversion
from urvc_core.testing import speech


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks far smaller than the inputs, so that every test crosses many joins."""
    monkeypatch.setattr(conversion, "_SAMPLES_PER_BLOCK", 4099)
    monkeypatch.setattr(conversion, "_FRAMES_PER_BLOCK", 37)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("length", [31, 4099, 4100, 50_000])
def test_highpass_is_scipys_filtfilt_to_the_bit(length: int) -> None:
    samples = np.tile(speech().samples[0], 2)[:length]
    sections = signal.butter(5, 48, btype="highpass", fs=16000, output="sos")
    expected = signal.sosfiltfilt(sections, samples).astype(np.float32)
    assert np.array_equal(conversion.highpass_48hz(samples), expected)


@pytest.mark.usefixtures("small_blocks")
def test_frame_energy_is_the_mean_square_of_each_frame() -> None:
    samples = speech().samples[0]
    frames = len(samples) // 160
    power = (samples[: frames * 160].astype(np.float64) ** 2).reshape(frames, -1).mean(1)
    expected = (10 * np.log10(power + 1e-12)).astype(np.float32)
    assert np.array_equal(conversion.frame_energy_db(samples), expected)


def _whole_array_rms_mix(
    source: np.ndarray, source_rate: int, converted: np.ndarray, converted_rate: int, rate: float
) -> np.ndarray:
    """RVC's RMS mix as the reference writes it: whole float64 envelopes."""

    def envelope(samples: np.ndarray, sample_rate: int) -> np.ndarray:
        window, hop = sample_rate // 2 * 2, sample_rate // 2
        padded = np.pad(samples.astype(np.float64), (window // 2, window // 2))
        count = 1 + (len(padded) - window) // hop
        rms = np.array(
            [np.sqrt(np.mean(padded[i * hop : i * hop + window] ** 2)) for i in range(count)]
        )
        positions = np.linspace(0, len(rms) - 1, num=len(converted))
        return np.interp(positions, np.arange(len(rms)), rms)

    source_envelope = envelope(source, source_rate)
    converted_envelope = np.maximum(envelope(converted, converted_rate), 1e-6)
    gain = source_envelope ** (1 - rate) * converted_envelope ** (rate - 1)
    return (converted * gain).astype(np.float32)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("rate", [0.0, 0.25, 0.8])
def test_rms_mix_in_blocks_matches_the_whole_array_mix(rate: float) -> None:
    source = speech().samples[0]
    rng = np.random.default_rng(5)
    converted = (0.2 * rng.standard_normal(len(source) * 40000 // 16000)).astype(np.float32)
    expected = _whole_array_rms_mix(source, 16000, converted, 40000, rate)
    in_place = converted.copy()
    mixed = conversion.mix_loudness_envelope(source, 16000, in_place, 40000, rate, out=in_place)
    assert mixed is in_place
    np.testing.assert_allclose(mixed, expected, rtol=1e-6, atol=1e-9)
