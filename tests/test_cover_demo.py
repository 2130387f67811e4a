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


def test_the_demo_builds_its_voice_model_and_embedder_without_pytest(tmp_path: Path) -> None:
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
