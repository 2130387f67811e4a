"""The demo: the README's first command makes a cover offline and says what it used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from urvc_core.audio import audio_info, load_audio
from urvc_core.demo import DEMO_VOICE_NAME, build_demo_song, run_demo
from urvc_core.mixing import integrated_loudness
from urvc_core.testing.signals import praat_pitch_hz

# Slow (the demo's whole cover): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow

URVC = str(Path(sys.executable).with_name("urvc"))


def test_the_demo_song_is_speech_over_a_stereo_band() -> None:
    song = build_demo_song()
    assert (song.sample_rate, song.channels) == (44100, 2)
    assert song.duration == pytest.approx(10.0)
    assert float(np.max(np.abs(song.samples))) == pytest.approx(10 ** (-1 / 20), abs=1e-3)
    left, right = song.samples
    assert not np.allclose(left, right)  # a band panned aside: something to separate by
    np.testing.assert_array_equal(build_demo_song().samples, song.samples)


def test_the_demo_builds_its_voice_model_and_embedder_without_pytest(
    tmp_path: Path, demo_voice: Path
) -> None:
    # A user's `pip install urvc-core` has no pytest, which urvc_core.testing imports:
    # a child process where `import pytest` fails builds what `urvc demo` builds.
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["pytest"] = None  # `import pytest` now raises ImportError
        from urvc_core.builtin.hubert_network import load_hubert
        from urvc_core.demo import build_demo_assets
        from urvc_core.rvc.voice_model import VoiceModel

        assets = build_demo_assets(sys.argv[1])
        model = VoiceModel.load(assets.model)
        embedder = load_hubert(assets.embedder)
        print(json.dumps({
            "version": model.info.version,
            "sample_rate": model.info.sample_rate,
            "projection_size": embedder.projection_size,
            "testing_imported": sorted(m for m in sys.modules if m.startswith("urvc_core.testing")),
        }))
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env={**os.environ, "URVC_OFFLINE": "1"},
        timeout=300,
    )
    assert child.returncode == 0, child.stderr
    built = json.loads(child.stdout.strip().splitlines()[-1])
    assert built == {
        "version": "v1",
        "sample_rate": 40000,
        "projection_size": 256,
        "testing_imported": [],
    }


def test_urvc_demo_runs_offline_and_says_what_it_used(
    tmp_path: Path, run_urvc: object, monkeypatch: pytest.MonkeyPatch, demo_voice: Path
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    folder = tmp_path / "demo"
    outcome = run_urvc("demo", "--folder", str(folder))  # type: ignore[operator]
    assert outcome.exit_code == 0, outcome.stderr
    cover = folder / f"urvc-demo-song ({DEMO_VOICE_NAME} Ver).mp3"
    assert f"Cover: {cover}" in outcome.stdout
    assert "random weights" in outcome.stdout and "urvc trained it" in outcome.stdout
    assert "Training the demo's voice" not in outcome.stdout  # trained already
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


def _melody_agreement(melody_hz: np.ndarray, sung_hz: np.ndarray) -> tuple[float, float, float]:
    """(share of the melody's voiced frames that are voiced in ``sung_hz``, median
    |deviation| in cents on the frames both are voiced, share of those within 50 cents)."""
    frames = min(len(melody_hz), len(sung_hz))
    melody_hz, sung_hz = melody_hz[:frames], sung_hz[:frames]
    voiced = melody_hz > 0
    both = voiced & (sung_hz > 0)
    cents = np.abs(1200.0 * np.log2(sung_hz[both] / melody_hz[both]))
    return float(both.sum() / voiced.sum()), float(np.median(cents)), float(np.mean(cents < 50))


def test_the_demo_cover_voices_the_song_where_it_is_sung_as_loud_as_the_band(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_voice: Path
) -> None:
    """The trained demo voice is voiced where the song's voice is, near the melody's
    pitch, within 12 LU of the band, and is a voice (no offset, no rumble).

    Measured: 87 % voiced, a median 86 cents off the melody (33 % within 50 cents), where
    the voice trained with torch's draw of the pitch source's gain sang 400 cents low;
    what the centre separation leaves of the band is voiced too, so the voice is not
    held to a singer's 20 cents."""
    from urvc_core.cover import make_cover
    from urvc_core.demo import build_demo_assets, build_demo_song_tracks, demo_cover_options

    monkeypatch.setenv("URVC_OFFLINE", "1")
    assets = build_demo_assets(tmp_path / "demo")
    cover = make_cover(
        assets.song,
        assets.model,
        embedder=str(assets.embedder),
        output=tmp_path / "cover.wav",
        keep_intermediates=True,
        **demo_cover_options(),
    )
    melody = build_demo_song_tracks().vocals
    melody_hz = praat_pitch_hz(melody)
    assert np.count_nonzero(melody_hz) > 300  # two sentences of speech: 3 s voiced

    converted = load_audio(cover.intermediates["converted"])
    heard, cents, within_50 = _melody_agreement(melody_hz, praat_pitch_hz(converted))
    print(
        f"converted: voiced {heard:.0%}, median {cents:.0f} cents off, within 50: {within_50:.0%}"
    )
    assert heard > 0.85
    assert cents < 150 and within_50 > 0.2
    # The voice that goes into the mix (after effects) is within 12 LU of the band,
    # and it is a voice: no offset, nearly all of its energy above 80 Hz.
    backing = load_audio(cover.intermediates["instrumental"])
    voice = load_audio(cover.intermediates.get("effects", cover.intermediates["converted"]))
    # Measured 8.1 LU under the band (10.3 under numpy 1's run): the trained voice is
    # quieter than the song's; levelling it in the mix is the next step (issue 18's note).
    assert abs(integrated_loudness(voice) - integrated_loudness(backing)) < 12.0
    spectrum = np.abs(np.fft.rfft(voice.samples.mean(axis=0))) ** 2
    frequencies = np.fft.rfftfreq(voice.num_samples, 1.0 / voice.sample_rate)
    # 0.1 % after the effects plugin's chain (its high-pass), 1.7 % without the plugin.
    assert spectrum[frequencies < 80].sum() / spectrum.sum() < 0.03
    assert abs(float(voice.samples.mean())) < 1e-3


def test_the_demo_voice_learned_the_sentence_it_was_trained_on(demo_voice: Path) -> None:
    """Trained, the voice renders the sentence's spectrogram: its log mel spectrogram
    follows the original's (an untrained network's does not), loud where the words are
    and quiet between them."""
    from urvc_core.demo import DEMO_TRAINING, DEMO_TRAINING_NAME, build_demo_assets
    from urvc_core.rvc.conversion import convert_voice
    from urvc_core.testing import speech
    from urvc_core.training.networks import MelSpectrogram

    assets = build_demo_assets()  # the voice is there: builds only the song and embedder
    sentence = speech(40000)
    spectrogram = MelSpectrogram(40000, 2048, 400, 80)

    def log_mel(samples: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return spectrogram(torch.from_numpy(samples[None].astype(np.float32)))[0].numpy()

    def agreement(model: Path) -> float:
        converted = convert_voice(
            sentence, str(model), embedder=str(assets.embedder), f0_method="fcpe"
        ).audio.samples[0]
        frames = min(len(converted), len(sentence.samples[0])) // 400 * 400
        ours, theirs = log_mel(converted[:frames]), log_mel(sentence.samples[0][:frames])
        return float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1])

    trained = agreement(assets.model)
    print(f"log-mel correlation with the sentence: {trained:.3f}")
    assert trained > 0.8
    assert DEMO_TRAINING["model_size"] == "small" and DEMO_TRAINING_NAME in str(demo_voice)
