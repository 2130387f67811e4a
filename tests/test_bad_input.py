"""Bad input and interruptions, as a user meets them through the ``urvc`` command.

Each case runs the installed script in a child process on real audio (the CMU ARCTIC
sentence, and the song the cover tests use: that sentence panned centre over a stereo
band) and asserts what the user sees: the exit code, every line on stderr, and which
files exist afterwards. Voice models are the tiny random-weight community files the
tests build (no weights can be downloaded here).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

import urvc_core.audio
from urvc_core.audio import audio_info, load_audio, save_audio
from urvc_core.backends import Audio
from urvc_core.cli import cli
from urvc_core.errors import UrvcError
from urvc_core.rvc.request import resolve_embedder
from urvc_core.testing import centre_panned_speech_mix
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.problem_files import write_damaged_mp3, write_surround_speech
from urvc_core.testing.voice_models import build_voice_model_file

SPEECH = Path(urvc_core.audio.__file__).parent / "testing" / "data" / "arctic_a0007.wav"
URVC = str(Path(sys.executable).with_name("urvc"))


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A tiny v1 voice model, and the options that convert with it offline."""
    folder = tmp_path_factory.mktemp("voice")
    model = build_voice_model_file(folder / "Tiny.pth", version="v1")
    embedder = build_hf_hubert_folder(folder / "embedder", hidden_size=64)
    return model, ["--embedder", str(embedder), "--f0-method", "pm"]


@pytest.fixture
def song(tmp_path: Path) -> Path:
    return save_audio(centre_panned_speech_mix(44100).mixture, tmp_path / "song.wav")


def stderr_lines(result: Any) -> list[str]:
    return result.stderr.strip().splitlines()


# -- an input is never lost ------------------------------------------------------------


@pytest.mark.parametrize("command", ["audio convert", "mix", "f0 extract", "convert", "cover"])
def test_a_command_refuses_to_write_over_its_input(
    run_urvc: Any, voice: tuple[Path, list[str]], song: Path, command: str
) -> None:
    model, converting = voice
    original = song.read_bytes()
    arguments = {
        "audio convert": ["audio", "convert", song, song],
        "mix": ["mix", song, "-o", song],
        "f0 extract": ["f0", "extract", song, "-o", song],
        "convert": ["convert", song, "-m", model, "-o", song, *converting],
        "cover": ["cover", song, "-m", model, "-o", song, "--separation", "center", *converting],
    }[command]

    result = run_urvc(*map(str, arguments))

    assert result.exit_code == 1
    assert stderr_lines(result) == [
        f"Error: Can't write {song}: it is the input file {song}, which would be lost; "
        f"choose another output name."
    ]
    assert song.read_bytes() == original


# -- batches go on past a bad file -----------------------------------------------------


def test_separating_a_folder_goes_past_bad_songs_and_lists_them_at_the_end(
    run_urvc: Any, tmp_path: Path
) -> None:
    songs = tmp_path / "songs"
    songs.mkdir()
    mixture = centre_panned_speech_mix(44100).mixture
    save_audio(mixture, songs / "a.wav")
    (songs / "b.wav").write_bytes(SPEECH.read_bytes()[:30])  # half a header, no audio
    save_audio(mixture, songs / "c.wav")
    # Separating "c" into this folder would write its vocals over this input.
    save_audio(mixture, songs / "c (Vocals).wav")

    result = run_urvc("separate", str(songs), "--separation", "center", "-o", str(songs))

    assert result.exit_code == 1
    lines = stderr_lines(result)
    assert lines[0] == "Error: 2 of 4 inputs failed (the others are done):"
    assert lines[1].startswith(f"  {songs / 'b.wav'}: Can't read {songs / 'b.wav'}: ")
    assert lines[2] == (
        f"  {songs / 'c.wav'}: Can't write {songs / 'c (Vocals).wav'}: it is the input file "
        f"{songs / 'c (Vocals).wav'}, which would be lost; choose another output name."
    )
    assert len(lines) == 3
    assert sorted(p.name for p in songs.iterdir()) == [
        "a (Instrumental).wav",
        "a (Vocals).wav",
        "a.wav",
        "b.wav",
        "c (Vocals) (Instrumental).wav",
        "c (Vocals) (Vocals).wav",
        "c (Vocals).wav",
        "c.wav",
    ]
    assert (
        load_audio(songs / "c (Vocals).wav").samples.tobytes()
        == load_audio(songs / "c.wav").samples.tobytes()
    )  # still the input it was
    assert len(result.stdout.splitlines()) == 4  # the stems that were written


@pytest.mark.slow
def test_converting_a_folder_goes_past_a_damaged_file(
    run_urvc: Any, voice: tuple[Path, list[str]], tmp_path: Path
) -> None:
    model, converting = voice
    takes = tmp_path / "takes"
    takes.mkdir()
    speech = load_audio(SPEECH)
    save_audio(speech, takes / "a.wav")
    damaged = speech.samples.copy()
    damaged[0, 24000] = np.nan  # 1.500 s in
    soundfile.write(takes / "b.wav", damaged.T, 16000, subtype="FLOAT")
    save_audio(speech, takes / "c.wav")
    out = tmp_path / "converted"

    started = time.monotonic()
    result = run_urvc("convert", str(takes), "-m", str(model), "-o", str(out), *converting)

    assert result.exit_code == 1
    assert stderr_lines(result) == [
        "Error: 1 of 3 inputs failed (the others are done):",
        f"  {takes / 'b.wav'}: {takes / 'b.wav'} holds 1 NaN or infinite sample(s), the "
        f"first at 1.500 s; the file is damaged: export it again from the program that made it.",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["a (Tiny Ver).wav", "c (Tiny Ver).wav"]
    assert result.stdout.splitlines() == [
        str(out / "a (Tiny Ver).wav"),
        str(out / "c (Tiny Ver).wav"),
    ]
    assert time.monotonic() - started < 120


# -- what a file holds -----------------------------------------------------------------


@pytest.mark.slow
def test_a_six_channel_song_is_mixed_down_with_one_note_in_cover_and_convert(
    run_urvc: Any, voice: tuple[Path, list[str]], tmp_path: Path
) -> None:
    model, converting = voice
    surround, _ = write_surround_speech(tmp_path / "surround.wav")
    note = (
        f"Warning: {surround} has 6 channels (5.1); mixed down to stereo by ITU-R BS.775 "
        f"(centre and surrounds at -3 dB, LFE left out)."
    )
    cover_file = tmp_path / "cover.wav"
    converted = tmp_path / "converted.wav"

    covered = run_urvc(
        "cover",
        str(surround),
        "-m",
        str(model),
        "-o",
        str(cover_file),
        "--separation",
        "center",
        *converting,
    )
    converting_result = run_urvc(
        "convert", str(surround), "-m", str(model), "-o", str(converted), *converting
    )

    assert covered.exit_code == 0, covered.stderr
    assert [line for line in stderr_lines(covered) if line.startswith("Warning")] == [note]
    cover_info = audio_info(cover_file)
    assert cover_info.channels == 2 and cover_info.duration == pytest.approx(4.0, abs=0.01)
    assert converting_result.exit_code == 0, converting_result.stderr
    # A conversion reads the song in mono: the note says so.
    assert stderr_lines(converting_result) == [
        note.replace("to stereo by", "to stereo, then mono by")
    ]
    assert audio_info(converted).duration == pytest.approx(4.0, abs=0.01)


@pytest.mark.slow
def test_a_wav_cut_short_is_converted_as_far_as_it_goes_with_one_warning(
    run_urvc: Any, voice: tuple[Path, list[str]], tmp_path: Path
) -> None:
    model, converting = voice
    cut = tmp_path / "cut.wav"
    cut.write_bytes(SPEECH.read_bytes()[: 44 + 2 * 32000])  # the header, then 2 s of 4
    out = tmp_path / "out.wav"

    result = run_urvc("convert", str(cut), "-m", str(model), "-o", str(out), *converting)

    assert result.exit_code == 0, result.stderr
    assert stderr_lines(result) == [
        f"Warning: {cut} is cut short: it holds 2.000 s of the 4.000 s its header gives. "
        f"Using the 2.000 s that could be read; download or export it again for a whole copy."
    ]
    assert audio_info(out).duration == pytest.approx(2.0, abs=0.01)


def test_a_damaged_mp3_is_one_line_on_stderr_and_never_the_decoder_s_notes(
    run_urvc: Any, tmp_path: Path
) -> None:
    damaged = write_damaged_mp3(tmp_path / "damaged.mp3")
    noise = tmp_path / "noise.mp3"
    noise.write_bytes(np.random.default_rng(3).bytes(5000))
    out = tmp_path / "out.wav"

    repaired = run_urvc("audio", "convert", str(damaged), str(out))
    refused = run_urvc("audio", "convert", str(noise), str(tmp_path / "noise.wav"))
    info = run_urvc("audio", "info", str(noise))

    assert repaired.exit_code == 0
    (warning,) = stderr_lines(repaired)
    assert warning.startswith(f"Warning: {damaged} is damaged: it holds ")
    assert "the decoder reported" in warning
    assert 0.5 < audio_info(out).duration < 3.9
    for result in (refused, info):
        assert result.exit_code == 1
        assert stderr_lines(result) == [
            f"Error: Can't read {noise}: no audio frame in it could be decoded. The file is "
            f"damaged or not audio; check that it plays in a media player, or export it again."
        ]
    assert not (tmp_path / "noise.wav").exists()


def test_audio_info_reports_nan_samples_and_a_header_that_promises_more(
    run_urvc: Any, tmp_path: Path
) -> None:
    samples = load_audio(SPEECH).samples.copy()
    samples[0, 8000:8003] = [np.nan, np.inf, -np.inf]
    damaged = tmp_path / "damaged.wav"
    soundfile.write(damaged, samples.T, 16000, subtype="FLOAT")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(SPEECH.read_bytes()[:1000])

    nan_info = run_urvc("audio", "info", str(damaged))
    cut_info = run_urvc("audio", "info", str(cut))

    assert nan_info.stdout.strip() == (
        f"{damaged}: wav, 16000 Hz, 1 channel(s), 64000 frames, 4.000 s; "
        f"3 NaN or infinite sample(s), the first at 0.500 s"
    )
    assert cut_info.stdout.strip() == (
        f"{cut}: wav, 16000 Hz, 1 channel(s), 478 frames, 0.030 s "
        f"(cut short: its header gives 4.000 s)"
    )


# -- names -----------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["/no/such/dir", "./contentvec", "~/no-such-embedder", "a/b"])
def test_an_embedder_path_that_does_not_exist_says_so(given: str) -> None:
    with pytest.raises(UrvcError) as error:
        resolve_embedder(given, "contentvec")

    assert str(error.value).startswith(
        f"The embedder path {given} does not exist; check the path, or give an embedder name: "
    )
    assert "contentvec" in str(error.value)


def test_an_unknown_embedder_name_is_still_called_a_name() -> None:
    with pytest.raises(UrvcError, match="There is no embedder named 'contentvec2'"):
        resolve_embedder("contentvec2", "contentvec")


def test_convert_with_a_missing_embedder_path_is_one_line(
    run_urvc: Any, voice: tuple[Path, list[str]], tmp_path: Path
) -> None:
    model, _ = voice
    out = tmp_path / "out.wav"

    result = run_urvc(
        "convert", str(SPEECH), "-m", str(model), "--embedder", "/no/such/dir", "-o", str(out)
    )

    assert result.exit_code == 1
    (line,) = stderr_lines(result)
    assert line.startswith("Error: The embedder path /no/such/dir does not exist; ")
    assert not out.exists()


# -- interruptions ---------------------------------------------------------------------


def test_ctrl_c_in_a_command_exits_130_saying_interrupted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(path: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(urvc_core.audio, "audio_info", interrupted)

    result = CliRunner().invoke(cli, ["audio", "info", str(SPEECH)])

    assert result.exit_code == 130
    assert result.stderr == "Interrupted.\n"  # not click's "Aborted!"


# A separator that takes a minute, so that a signal surely comes in the middle of its
# step; it says when it has started.
_SLOW_SEPARATOR = """
import os
import time
from pathlib import Path

from urvc_core import Separator, hookimpl


class Slow(Separator):
    name = "slow-test"
    stems = ("Vocals", "Instrumental")

    def separate(self, audio):
        Path(os.environ["URVC_TEST_STARTED"]).touch()
        time.sleep(60)
        return {"Vocals": audio, "Instrumental": audio}


@hookimpl
def register_separators(register):
    register(Slow)
"""


@pytest.mark.parametrize(
    ("stop", "exit_code", "said"),
    [(signal.SIGINT, 130, "Interrupted."), (signal.SIGTERM, 143, "Terminated.")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_mid_step_leaves_no_staging_folder_and_no_lock_file(
    add_distribution: Any,
    urvc_home: Path,
    song: Path,
    tmp_path: Path,
    stop: signal.Signals,
    exit_code: int,
    said: str,
) -> None:
    add_distribution("urvc-slow-test", "urvc_slow_test", _SLOW_SEPARATOR)
    started = tmp_path / "started"
    out = tmp_path / "stems"
    steps = urvc_home / "cache" / "steps"
    process = subprocess.Popen(
        [
            URVC,
            "separate",
            str(song),
            "--separation",
            "center",
            "--separator-step",
            "vocals=slow-test",
            "-o",
            str(out),
        ],
        env={**os.environ, "URVC_TEST_STARTED": str(started)},
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job ignores SIGINT; Ctrl-C reaches a command in front.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the step never started"
        assert len(list((steps / ".staging").iterdir())) == 1  # mid-step, as promised
        assert len(list((steps / ".locks").iterdir())) == 1
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == exit_code
    assert stderr.strip().splitlines() == [said]
    assert list((steps / ".staging").iterdir()) == []
    assert list((steps / ".locks").iterdir()) == []
    assert not out.exists()


@pytest.mark.parametrize("channels", [6, 8])
def test_a_surround_file_mixes_down_for_every_command_alike(
    run_urvc: Any, tmp_path: Path, channels: int
) -> None:
    voice_samples = load_audio(SPEECH).samples
    surround = save_audio(
        Audio(np.repeat(voice_samples, channels, axis=0) * 0.2, 16000), tmp_path / "many.wav"
    )
    mixed = tmp_path / "mixed.wav"

    result = run_urvc("mix", str(surround), "-o", str(mixed))

    assert result.exit_code == 0, result.stderr
    (line,) = stderr_lines(result)
    assert line.startswith(f"Warning: {surround} has {channels} channels (")
    assert audio_info(mixed).channels == 2
