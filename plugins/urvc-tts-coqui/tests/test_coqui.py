"""The coqui engine through its worker, on random-weight VITS models in Coqui's format.

The models are built by Coqui's own classes in the plugin's environment and saved as
its trainer saves them (conftest.py), the speakers file named by a path from another
machine, as in a published model. What they say is noise, but its length follows the
text, its rate is the config's, and its speakers are the file's: what the tests hold
the engine to.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from urvc_core.backends import TTSEngine
from urvc_core.errors import UrvcError
from urvc_core.registry import get_backend
from urvc_core.testing import TTSEngineConformance

if TYPE_CHECKING:
    from conftest import CoquiSetup

URVC = str(Path(sys.executable).with_name("urvc"))
RATE = 22050


def _engine(**settings: str) -> TTSEngine:
    engine = get_backend("tts", "coqui", **settings)
    assert isinstance(engine, TTSEngine)
    return engine


@pytest.mark.usefixtures("coqui_home")
class TestCoquiConformance(TTSEngineConformance):
    sample_rate = RATE

    @pytest.fixture
    def backend(self) -> TTSEngine:
        return _engine()


def test_the_published_model_s_speakers_come_from_its_own_speakers_file(coqui_home: Path) -> None:
    engine = _engine()
    assert engine.voices() == ["p225", "p226", "p227"]
    assert {v.locale for v in engine.voice_details()} == {"en-GB"}
    first = engine.synthesize("Hello there.", voice="p225")
    third = engine.synthesize("Hello there.", voice="P227")
    assert first.sample_rate == third.sample_rate == RATE
    assert not np.allclose(
        first.samples[:, : third.num_samples], third.samples[:, : first.num_samples]
    )
    with pytest.raises(UrvcError, match="has no voice 'p999'"):
        engine.synthesize("Hello.", voice="p999")


def test_a_model_folder_or_its_checkpoint_by_path(
    coqui_setup: CoquiSetup, coqui_home: Path
) -> None:
    folder = coqui_setup.models["vits-one-voice"]
    by_folder = _engine(model=str(folder))
    by_checkpoint = _engine(model=str(folder / "model_file.pth"))
    assert by_folder.voices() == by_checkpoint.voices() == ["default"]
    spoken = by_folder.synthesize("A model given by its folder.")
    assert spoken.sample_rate == RATE
    np.testing.assert_array_equal(
        spoken.samples, by_checkpoint.synthesize("A model given by its folder.").samples
    )


def test_the_same_text_is_the_same_speech_and_speed_shortens_it(coqui_home: Path) -> None:
    engine = _engine()
    text = "The same words, spoken twice, are the same speech."
    once, twice = engine.synthesize(text), engine.synthesize(text)
    np.testing.assert_array_equal(once.samples, twice.samples)
    fast = engine.synthesize(text, speed=2.0)
    slow = engine.synthesize(text, speed=0.5)
    assert fast.duration < once.duration < slow.duration
    with pytest.raises(UrvcError, match=r"speeds from 0\.25 to 4"):
        engine.synthesize(text, speed=5.0)


def test_the_model_folder_is_never_written(
    coqui_setup: CoquiSetup, tmp_path: Path, coqui_home: Path
) -> None:
    folder = shutil.copytree(coqui_setup.models["vits-three-voices"], tmp_path / "shared-model")
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}
    os.chmod(folder, 0o555)
    try:
        _engine(model=str(folder)).synthesize("Read only.", voice="p226")
    finally:
        os.chmod(folder, 0o755)
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}
    assert after == before
    # The config still names the trainer's path: the engine used a private copy.
    assert "/home/trainer/" in json.loads((folder / "config.json").read_text())["speakers_file"]


class _RunsCode:
    """Unpickling this calls os.system: what a hostile checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_unrun(
    coqui_setup: CoquiSetup, tmp_path: Path, coqui_home: Path
) -> None:
    folder = shutil.copytree(coqui_setup.models["vits-one-voice"], tmp_path / "hostile")
    marker = tmp_path / "ran"
    with open(folder / "model_file.pth", "wb") as checkpoint:
        pickle.dump({"model": _RunsCode(marker)}, checkpoint)
    with pytest.raises(UrvcError) as raised:
        _engine(model=str(folder)).synthesize("Hello.")
    message = str(raised.value)
    assert "urvc loads no model that could run code" in message or "can't be loaded" in message
    assert str(folder) in message
    assert "\n" not in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("config", "holds no Coqui model (no config.json)"),
        ("checkpoint", "has a config.json but no checkpoint"),
        ("missing", "does not exist"),
    ],
)
def test_a_folder_that_is_not_a_coqui_model_is_one_line_before_anything_runs(
    coqui_setup: CoquiSetup, tmp_path: Path, coqui_home: Path, spoil: str, message: str
) -> None:
    folder = shutil.copytree(coqui_setup.models["vits-one-voice"], tmp_path / "model")
    if spoil == "config":
        (folder / "config.json").unlink()
    elif spoil == "checkpoint":
        (folder / "model_file.pth").unlink()
    else:
        shutil.rmtree(folder)
    with pytest.raises(UrvcError, match=re.escape(message)) as raised:
        _engine(model=str(folder))
    assert "\n" not in str(raised.value)


def test_speak_through_coqui_writes_the_engine_s_speech(coqui_home: Path, tmp_path: Path) -> None:
    from urvc_core.audio import load_audio
    from urvc_core.speech import say

    short = say("Hello.", tts="coqui", tts_voice="p226", output=str(tmp_path / "short.wav"))
    long = say(
        "Hello. This is a good deal longer, so it takes longer to say.\n\nA new paragraph.",
        tts="coqui",
        tts_voice="p226",
        output=str(tmp_path / "long.wav"),
    )
    assert (short.engine, short.tts_voice) == ("coqui", "p226")
    assert long.sentences == 3
    assert long.duration > short.duration + 1.0
    written = load_audio(long.output)
    assert written.sample_rate == RATE
    assert written.duration == pytest.approx(long.duration, abs=0.001)


def test_urvc_tts_voices_lists_the_model_s_speakers(
    coqui_setup: CoquiSetup, coqui_home: Path
) -> None:
    one_voice = coqui_setup.models["vits-one-voice"]
    for settings, voices in [
        ([], ["p225", "p226", "p227"]),
        (["--tts-setting", f"model={one_voice}"], ["default"]),
    ]:
        listed = subprocess.run(
            [URVC, "tts", "voices", "--engine", "coqui", *settings, "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert listed.returncode == 0, listed.stderr
        assert [v["name"] for v in json.loads(listed.stdout)] == voices


def test_without_its_environment_the_engine_says_how_to_build_it(tmp_path: Path) -> None:
    home = tmp_path / "bare-home"
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model": "vits"}')
    (model / "model_file.pth").write_bytes(b"")
    result = subprocess.run(
        [
            URVC,
            "tts",
            "say",
            "Hello.",
            "--tts",
            "coqui",
            "--tts-setting",
            f"model={model}",
            "-o",
            str(tmp_path / "out.wav"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "URVC_HOME": str(home)},
        timeout=300,
    )
    assert result.returncode == 1
    assert "urvc install urvc-tts-coqui" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_a_model_that_reads_phonemes_speaks_through_espeak_ng(
    coqui_setup: CoquiSetup, tmp_path: Path, coqui_home: Path
) -> None:
    folder = tmp_path / "phonemes"
    subprocess.run(
        [str(coqui_setup.python), "-m", "urvc_tts_coqui.random_models", str(folder), "--phonemes"],
        check=True,
    )
    engine = _engine(model=str(folder))
    short, long = (
        engine.synthesize("Hi."),
        engine.synthesize("Hi. This takes a while longer to say."),
    )
    assert short.sample_rate == RATE
    assert long.duration > short.duration
