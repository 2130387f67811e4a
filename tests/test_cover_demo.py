"""The demo: the README's first command makes a cover offline and says what it used."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from urvc_core.audio import audio_info, load_audio
from urvc_core.demo import DEMO_VOICE_NAME, build_demo_song, run_demo
from urvc_core.mixing import integrated_loudness

URVC = str(Path(sys.executable).with_name("urvc"))


def test_the_demo_song_is_speech_over_a_stereo_band() -> None:
    song = build_demo_song()
    assert (song.sample_rate, song.channels) == (44100, 2)
    assert song.duration == pytest.approx(10.0)
    assert float(np.max(np.abs(song.samples))) == pytest.approx(10 ** (-1 / 20), abs=1e-3)
    left, right = song.samples
    assert not np.allclose(left, right)  # a band panned aside: something to separate by
    np.testing.assert_array_equal(build_demo_song().samples, song.samples)


def test_urvc_demo_runs_offline_and_says_what_it_used(
    tmp_path: Path, run_urvc: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    folder = tmp_path / "demo"
    outcome = run_urvc("demo", "--folder", str(folder))  # type: ignore[operator]
    assert outcome.exit_code == 0, outcome.stderr
    cover = folder / f"urvc-demo-song ({DEMO_VOICE_NAME} Ver).mp3"
    assert f"Cover: {cover}" in outcome.stdout
    assert "random weights" in outcome.stdout
    assert "urvc models download URL" in outcome.stdout
    assert "urvc cover" in outcome.stdout and "--f0-method fcpe" in outcome.stdout
    info = audio_info(cover)
    assert (info.format, info.sample_rate, info.channels) == ("mp3", 44100, 2)
    assert info.duration == pytest.approx(10.0, abs=0.03)
    song = load_audio(folder / "urvc-demo-song.wav")
    assert integrated_loudness(load_audio(cover)) == pytest.approx(
        integrated_loudness(song), abs=1.0
    )
    # Run again: the files are reused and every step comes from the cache.
    again = run_demo(folder)
    assert again.cover.computed == [] and again.cover.output == cover
