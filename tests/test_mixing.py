"""Mixing: gains, rates and channels, loudness matched to a reference, never clipping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from urvc_core.audio import load_audio, save_audio
from urvc_core.backends import Audio
from urvc_core.cli import cli
from urvc_core.errors import UrvcError
from urvc_core.mixing import (
    Track,
    integrated_loudness,
    limit_true_peak,
    mix_files,
    mix_tracks,
    remove_rumble,
    true_peak_db,
)
from urvc_core.testing import centre_panned_speech_mix, plucked_notes, speech


def _gained(audio: Audio, gain_db: float) -> Audio:
    return Audio(audio.samples * np.float32(10 ** (gain_db / 20)), audio.sample_rate)


def test_tracks_are_summed_with_their_gains() -> None:
    song = centre_panned_speech_mix(44100)
    result = mix_tracks(
        [Track(song.vocals, -6.0), Track(song.accompaniment, 0.0)],
        sample_rate=44100,
        highpass_hz=None,
    )
    expected = song.vocals.samples * 10 ** (-6 / 20) + song.accompaniment.samples
    np.testing.assert_allclose(result.audio.samples, expected, atol=1e-6)
    assert result.target_lufs is None and result.limiter_reduction_db == 0.0


def test_every_track_is_high_passed_above_hearing_s_floor() -> None:
    song = centre_panned_speech_mix(44100)
    plain = mix_tracks([Track(song.vocals), Track(song.accompaniment)], highpass_hz=None)
    filtered = mix_tracks([Track(song.vocals), Track(song.accompaniment)], sample_rate=44100)
    # What anyone hears is untouched: the loudness within 0.1 LU.
    assert integrated_loudness(filtered.audio) == pytest.approx(
        integrated_loudness(plain.audio), abs=0.1
    )
    # A 5 Hz wobble loses 40 dB or more; a 50 Hz bass note and a 1 kHz tone nothing.
    seconds = np.arange(44100 * 4) / 44100
    for frequency, expected_db in ((5.0, -40.0), (50.0, 0.0), (1000.0, 0.0)):
        tone = Audio(np.sin(2 * np.pi * frequency * seconds)[np.newaxis].astype(np.float32), 44100)
        kept = remove_rumble(tone).samples[0, 44100:-44100]  # away from the ends
        level_db = 20 * np.log10(np.sqrt(2 * np.mean(kept.astype(np.float64) ** 2)))
        if expected_db < 0:
            assert level_db < expected_db
        else:
            assert level_db == pytest.approx(0.0, abs=0.05)


def test_an_offset_never_becomes_the_loudest_part_of_a_mix() -> None:
    """A voice that renders an offset (as a random-weight model does) under speech."""
    song = centre_panned_speech_mix(44100)
    offset_voice = Audio(song.vocals.samples * 0.01 + np.float32(0.3), 44100)
    result = mix_tracks(
        [Track(offset_voice), Track(song.accompaniment)],
        sample_rate=44100,
        match_loudness=song.mixture,
    )
    mixed = result.audio.samples
    # The offset is gone; the accompaniment is what the loudness match brought up.
    assert abs(float(mixed[:, 4410:-4410].mean())) < 1e-3
    alone = mix_tracks([Track(song.accompaniment)], sample_rate=44100, match_loudness=song.mixture)
    np.testing.assert_allclose(
        np.sqrt(np.mean(mixed**2)), np.sqrt(np.mean(alone.audio.samples**2)), rtol=0.05
    )
    assert result.loudness_lufs == pytest.approx(integrated_loudness(song.mixture), abs=0.2)


def test_rates_and_channels_are_brought_together() -> None:
    voice = speech(16000)  # mono, 16 kHz
    band = centre_panned_speech_mix(44100).accompaniment  # stereo, 44.1 kHz
    result = mix_tracks([Track(voice), Track(band)], sample_rate=48000)
    assert result.audio.sample_rate == 48000 and result.audio.channels == 2
    assert result.audio.num_samples == round(band.duration * 48000)
    # The mono voice sits in the centre: both channels got the same share of it.
    shorter = mix_tracks([Track(voice)], sample_rate=48000, channels=2, length=48000)
    np.testing.assert_array_equal(shorter.audio.samples[0], shorter.audio.samples[1])
    assert shorter.audio.num_samples == 48000


def test_loudness_is_matched_to_the_reference() -> None:
    song = centre_panned_speech_mix(44100)
    reference = _gained(song.mixture, -6.0)
    quiet_cover = _gained(song.mixture, -20.0)
    result = mix_tracks([Track(quiet_cover)], sample_rate=44100, match_loudness=reference)
    assert result.target_lufs == pytest.approx(integrated_loudness(reference))
    assert integrated_loudness(result.audio) == pytest.approx(result.target_lufs, abs=0.1)
    assert result.loudness_gain_db == pytest.approx(14.0, abs=0.2)


def test_a_loud_target_is_reached_under_the_true_peak_ceiling() -> None:
    # Plucked notes have a high crest factor (true peak 15 dB above the loudness):
    # at -12 LUFS their peaks would reach +3 dBTP, so the limiter must take 4 dB off.
    notes = plucked_notes([220.0, 330.0, 440.0, 550.0], [0.0, 0.5, 1.0, 1.5], 3.0, 44100)
    result = mix_tracks([Track(notes)], sample_rate=44100, match_loudness=-12.0)
    assert integrated_loudness(result.audio) == pytest.approx(-12.0, abs=0.5)
    assert result.limiter_reduction_db > 3.0
    assert true_peak_db(result.audio) <= -1.0 + 0.05
    assert float(np.max(np.abs(result.audio.samples))) < 1.0


def test_the_limiter_catches_peaks_between_samples() -> None:
    rate = 44100
    t = np.arange(rate) / rate
    # A quarter-rate sine sampled 45 degrees off its peaks: every sample is at 0.707 of
    # the true peak.
    sine = np.sin(2 * np.pi * (rate / 4) * t + np.pi / 4).astype(np.float32) * 0.95
    audio = Audio(sine, rate)
    assert float(np.max(np.abs(sine))) == pytest.approx(0.95 * 0.7071, abs=1e-3)
    assert true_peak_db(audio) == pytest.approx(20 * np.log10(0.95), abs=0.3)
    limited, reduction = limit_true_peak(audio, -1.0)
    assert reduction > 0 and true_peak_db(limited) <= -1.0 + 0.05
    quiet = _gained(audio, -12.0)
    unchanged, reduction = limit_true_peak(quiet, -1.0)
    assert reduction == 0.0 and unchanged is quiet


def test_silence_stays_silence() -> None:
    silent = Audio(np.zeros((2, 44100), np.float32), 44100)
    result = mix_tracks([Track(silent)], sample_rate=44100, match_loudness=-14.0)
    assert not np.any(result.audio.samples)
    result = mix_tracks([Track(silent)], sample_rate=44100, match_loudness=silent)
    assert result.target_lufs is None


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_mix_files_writes_every_format(tmp_path: Path, fmt: str) -> None:
    song = centre_panned_speech_mix(44100)
    vocals = save_audio(song.vocals, tmp_path / "vocals.wav")
    band = save_audio(song.accompaniment, tmp_path / "band.flac")
    reference = save_audio(song.mixture, tmp_path / "song.wav")
    result = mix_files(
        [vocals, band],
        tmp_path / f"cover.{fmt}",
        gains_db=[0.0, -3.0],
        match_loudness_of=reference,
        sample_rate=44100,
    )
    written = load_audio(tmp_path / f"cover.{fmt}")
    assert result.path == tmp_path / f"cover.{fmt}"
    assert written.sample_rate == 44100 and written.channels == 2
    assert written.duration == pytest.approx(song.mixture.duration, abs=0.06)
    assert integrated_loudness(written) == pytest.approx(integrated_loudness(song.mixture), abs=1.0)


def test_mix_files_refuses_what_does_not_add_up(tmp_path: Path) -> None:
    vocals = save_audio(speech(), tmp_path / "vocals.wav")
    with pytest.raises(UrvcError, match="one --gain per track"):
        mix_files([vocals], tmp_path / "out.wav", gains_db=[0.0, 1.0])
    with pytest.raises(UrvcError, match="not a format"):
        mix_files([vocals], tmp_path / "out.xyz")
    with pytest.raises(UrvcError, match="does not exist"):
        mix_files([tmp_path / "missing.wav"], tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_urvc_mix(tmp_path: Path) -> None:
    song = centre_panned_speech_mix(44100)
    vocals = save_audio(song.vocals, tmp_path / "vocals.wav")
    band = save_audio(song.accompaniment, tmp_path / "band.wav")
    runner = CliRunner()
    outcome = runner.invoke(
        cli,
        [
            "mix",
            str(vocals),
            str(band),
            "-g",
            "0",
            "-g",
            "-2",
            "--target-lufs",
            "-16",
            "-o",
            str(tmp_path / "cover"),
            "--format",
            "flac",
            "--json",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    facts = json.loads(outcome.output)
    assert facts["path"] == str(tmp_path / "cover.flac")
    assert facts["loudness_lufs"] == pytest.approx(-16.0, abs=0.2)
    bad = runner.invoke(
        cli, ["mix", str(vocals), "-g", "1", "-g", "2", "-o", str(tmp_path / "x.wav")]
    )
    assert bad.exit_code == 1 and "one --gain per track" in bad.output
