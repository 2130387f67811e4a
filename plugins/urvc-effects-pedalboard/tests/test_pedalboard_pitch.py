"""Whole-track pitch shifting: files in parallel, lengths kept, the pitch where it should be."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from urvc_effects_pedalboard import pitch_shift_audio, pitch_shift_files

from urvc_core import Audio, load_audio, save_audio
from urvc_core.errors import InvalidSettingError, UrvcError
from urvc_core.testing import signals

RATE = 44100


def peak_frequency(audio: Audio) -> float:
    """The strongest frequency of the middle half second, to a fraction of a hertz."""
    middle = audio.samples.mean(axis=0)[audio.num_samples // 2 - RATE // 4 :][: RATE // 2]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle)), 16 * len(middle)))
    return float(np.fft.rfftfreq(16 * len(middle), 1 / RATE)[np.argmax(spectrum)])


def cents(measured: float, expected: float) -> float:
    return float(1200 * np.log2(measured / expected))


@pytest.fixture
def tracks(tmp_path: Path) -> list[Path]:
    """A stereo 'instrumental' (a 220 Hz tone over noise) and a mono 'backing vocal'."""
    tone = signals.harmonic_tone(220.0, 2.0, RATE, harmonics=1).samples[0]
    noise = signals.white_noise(2.0, RATE, channels=2, level_db=-40, seed=2).samples
    instrumental = Audio(tone + noise, RATE)
    backing = signals.harmonic_tone(330.0, 1.5, RATE, harmonics=1)
    return [
        save_audio(instrumental, tmp_path / "instrumental.flac"),
        save_audio(backing, tmp_path / "backing.wav"),
    ]


def test_files_are_shifted_in_parallel_keeping_length_and_channels(
    tracks: list[Path], tmp_path: Path
) -> None:
    fractions: list[float] = []
    written = pitch_shift_files(
        tracks, 3, tmp_path / "shifted", workers=2, progress=fractions.append
    )
    assert [p.name for p in written] == ["instrumental_pitch+3.flac", "backing_pitch+3.wav"]
    assert fractions[-1] == 1.0
    for source, result, f0 in zip(tracks, written, (220.0, 330.0), strict=True):
        before, after = load_audio(source), load_audio(result)
        assert after.num_samples == before.num_samples
        assert after.channels == before.channels
        assert cents(peak_frequency(after), f0 * 2 ** (3 / 12)) == pytest.approx(0, abs=10)


def test_one_output_per_input_may_be_named(tracks: list[Path], tmp_path: Path) -> None:
    outputs = [tmp_path / "a.wav", tmp_path / "b.mp3"]
    written = pitch_shift_files(tracks, -12, outputs=outputs, workers=1, preserve_formants=True)
    assert written == outputs
    shifted = load_audio(outputs[0])
    assert cents(peak_frequency(shifted), 110.0) == pytest.approx(0, abs=10)


def test_a_shift_of_zero_returns_the_audio_unchanged() -> None:
    voice = signals.speech(RATE)
    assert np.array_equal(pitch_shift_audio(voice, 0).samples, voice.samples)


def test_very_short_audio_keeps_its_length() -> None:
    blip = Audio(np.full((2, 50), 0.1, dtype=np.float32), RATE)
    assert pitch_shift_audio(blip, 5).samples.shape == (2, 50)


def test_bad_requests_fail_before_any_work(tracks: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(InvalidSettingError, match="-24 to 24 semitones"):
        pitch_shift_files(tracks, 30, out)
    with pytest.raises(UrvcError, match=r"missing\.wav does not exist"):
        pitch_shift_files([*tracks, tmp_path / "missing.wav"], 2, out)
    with pytest.raises(UrvcError, match=r"2 input file.*1 output"):
        pitch_shift_files(tracks, 2, outputs=[tmp_path / "one.wav"])
    twin = tmp_path / "twin"
    twin.mkdir()
    same_name = save_audio(load_audio(tracks[1]), twin / "backing.wav")
    with pytest.raises(UrvcError, match="would both be written"):
        pitch_shift_files([tracks[1], same_name], 2, out)
    with pytest.raises(UrvcError, match="No files"):
        pitch_shift_files([], 2, out)
    assert not out.exists()


def test_a_file_that_fails_is_reported_with_its_name(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(UrvcError, match=r"broken\.wav"):
        pitch_shift_files([broken], 2, tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
