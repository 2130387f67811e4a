"""Song covers end to end, on real audio through real code.

The song is the CMU ARCTIC sentence panned centre over a synthesized stereo
accompaniment (4 s, 44.1 kHz). It goes through the built-in ``dsp-center`` separator,
a tiny random-weight RVC v1 voice model (the community file format; no weights can be
downloaded here), the pedalboard plugin's effects and pitch shift, and the mix. One
cover is made per module and the tests change one thing at a time from it, against
one cache, to see what is recomputed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from urvc_core.audio import audio_info, load_audio, save_audio
from urvc_core.backends import Audio
from urvc_core.cache import StepCache
from urvc_core.cli import cli
from urvc_core.cover import CoverResult, follow_shift, make_cover, make_covers
from urvc_core.errors import UrvcError
from urvc_core.mixing import integrated_loudness, true_peak_db
from urvc_core.plugins import reset_plugin_host
from urvc_core.registry import Registry, get_backend
from urvc_core.rvc import conversion
from urvc_core.testing import centre_panned_speech_mix
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.voice_models import build_voice_model_file

# Slow (whole covers): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow

HAS_PEDALBOARD = importlib.util.find_spec("urvc_effects_pedalboard") is not None
needs_pedalboard = pytest.mark.skipif(
    not HAS_PEDALBOARD, reason="the urvc-effects-pedalboard plugin is not installed"
)
URVC = str(Path(sys.executable).with_name("urvc"))


@dataclass
class World:
    home: Path
    folder: Path
    song: Path
    model: Path
    embedder: Path
    cache: StepCache
    options: dict[str, Any]
    first: CoverResult

    def cover(self, **changes: Any) -> CoverResult:
        options = {**self.options, **changes}
        options.setdefault("output", self.folder / "covers")
        return make_cover(self.song, self.model, cache=self.cache, **options)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("cover-home")
        patch.setenv("URVC_HOME", str(home))
        for variable in ("URVC_LOAD_PLUGINS", "URVC_OFFLINE", "URVC_RAISE_ERRORS"):
            patch.delenv(variable, raising=False)
        reset_plugin_host()
        folder = tmp_path_factory.mktemp("cover")
        song = save_audio(centre_panned_speech_mix(44100).mixture, folder / "Test Song.wav")
        model = build_voice_model_file(folder / "Tiny Voice.pth", version="v1")
        embedder = build_hf_hubert_folder(folder / "embedder", hidden_size=64)
        options: dict[str, Any] = {
            "separation": "center",
            "embedder": str(embedder),
            "f0_method": "pm",
        }
        if HAS_PEDALBOARD:
            options.update(
                pitch=2,
                effects=["highpass:cutoff_frequency_hz=100", "reverb:room_size=0.2,wet_level=0.2"],
            )
        cache = StepCache(home / "cache" / "steps")
        first = make_cover(song, model, cache=cache, output=folder / "covers", **options)
        yield World(home, folder, song, model, embedder, cache, options, first)
    reset_plugin_host()


@pytest.fixture
def backend_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every backend handed out by the registry, and every voice model loaded."""
    calls: list[str] = []
    create = Registry.create
    load = conversion.VoiceConverter.__init__

    def spy_create(self: Registry, kind: Any, name: str, **settings: Any) -> Any:
        calls.append(f"{kind}:{name}")
        return create(self, kind, name, **settings)

    def spy_load(self: Any, model: Any, **options: Any) -> None:
        path = model.voice.model_path if hasattr(model, "voice") else Path(str(model))
        calls.append(f"voice:{path.name}")
        load(self, model, **options)

    monkeypatch.setattr(Registry, "create", spy_create)
    monkeypatch.setattr(conversion.VoiceConverter, "__init__", spy_load)
    return calls


def _entries(cache: StepCache, step: str) -> list[Any]:
    return [entry for entry in cache.entries() if entry.step == step]


def test_the_cover_has_the_song_s_length_rate_and_loudness(world: World) -> None:
    result = world.first
    assert result.output == world.folder / "covers" / "Test Song (Tiny Voice Ver).mp3"
    info = audio_info(result.output)
    assert (info.format, info.sample_rate, info.channels) == ("mp3", 44100, 2)
    assert info.duration == pytest.approx(audio_info(world.song).duration, abs=0.03)
    cover, song = load_audio(result.output), load_audio(world.song)
    assert integrated_loudness(cover) == pytest.approx(integrated_loudness(song), abs=1.0)
    assert true_peak_db(cover) < 0.0
    expected = ["separate.vocals", "convert", "mix"]
    if HAS_PEDALBOARD:
        expected = ["separate.vocals", "convert", "effects", "pitch-shift:instrumental", "mix"]
        assert result.pitch == {"vocals": 2.0, "instrumental": 2.0}
    assert result.computed == expected
    assert result.cache_hits == []
    record = result.as_dict()
    assert set(record["timings"]) == {"source", *expected, "save"}
    assert record["intermediates"]["converted"].endswith("vocals.wav")
    json.dumps(record)


def test_a_second_run_is_served_from_the_cache(world: World, backend_calls: list[str]) -> None:
    again = world.cover()
    assert backend_calls == []
    assert again.computed == []
    assert again.output.read_bytes() == world.first.output.read_bytes()
    assert len(again.cache_hits) == len(world.first.computed)


def test_a_new_mix_gain_redoes_only_the_mix(world: World, backend_calls: list[str]) -> None:
    result = world.cover(instrumental_gain_db=-4.0, output=world.folder / "gain")
    assert result.computed == ["mix"]
    assert backend_calls == []
    assert result.output.read_bytes() != world.first.output.read_bytes()


@needs_pedalboard
def test_a_new_pitch_redoes_the_conversion_and_what_follows(
    world: World, backend_calls: list[str]
) -> None:
    result = world.cover(pitch=3, output=world.folder / "pitch")
    assert result.cache_hits == ["separate.vocals"]
    assert result.computed == ["convert", "effects", "pitch-shift:instrumental", "mix"]
    assert result.pitch == {"vocals": 3.0, "instrumental": 3.0}
    assert "separator:dsp-center" not in backend_calls
    assert backend_calls[0] == "voice:Tiny Voice.pth"


def test_a_voice_model_url_is_downloaded_into_the_library_once(
    world: World, tmp_path: Path
) -> None:
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(world.folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/Tiny%20Voice.pth"
    try:
        result = make_cover(world.song, url, cache=world.cache, output=tmp_path, **world.options)
    finally:
        server.shutdown()
        server.server_close()
    assert "Tiny" in result.voice
    assert "convert" in result.cache_hits  # the same weights as the file: the same key
    again = make_cover(world.song, url, cache=world.cache, output=tmp_path, **world.options)
    assert again.output == result.output  # from the library: the server is gone


def test_follow_pitch_modes() -> None:
    assert [follow_shift(s, "key") for s in (12, 14, -12, 7, -5, 2.5, 0)] == [
        0.0,
        2.0,
        0.0,
        -5.0,
        -5.0,
        2.5,
        0.0,
    ]
    assert follow_shift(14, "full") == 14 and follow_shift(14, "none") == 0


def test_a_run_killed_in_the_mix_leaves_no_entry_and_no_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urvc_core.mixing

    def killed(tracks: Any, **options: Any) -> Any:
        Path(options["output"]).write_bytes(b"ID3 half an mp3")
        raise KeyboardInterrupt

    monkeypatch.setattr(urvc_core.mixing, "mix_tracks", killed)
    mixes = len(_entries(world.cache, "mix"))
    output = world.folder / "killed"
    with pytest.raises(KeyboardInterrupt):
        world.cover(vocals_gain_db=-7.0, output=output)
    assert len(_entries(world.cache, "mix")) == mixes
    assert not any((world.cache.root / ".staging").iterdir())
    assert not output.exists() or not any(output.iterdir())
    monkeypatch.undo()
    assert world.cover(vocals_gain_db=-7.0, output=output).computed == ["mix"]


def test_a_conversion_that_fails_half_way_is_not_cached(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(self: Any, audio: Any, settings: Any, progress: Any = None) -> Any:
        if progress is not None:
            progress(0.5)
        raise RuntimeError("out of memory in the synthesizer")

    monkeypatch.setattr(conversion.VoiceConverter, "convert", fails)
    conversions = len(_entries(world.cache, "convert"))
    with pytest.raises(RuntimeError, match="out of memory"):
        world.cover(index_rate=0.9, output=world.folder / "failed")
    assert len(_entries(world.cache, "convert")) == conversions
    assert not (world.folder / "failed").exists()


def test_two_runs_at_once_share_one_result(world: World) -> None:
    results: dict[str, CoverResult] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results[name] = world.cover(
                backup_gain_db=-2.0, vocals_gain_db=1.5, output=world.folder / name
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    one, two = results["one"], results["two"]
    assert one.output.read_bytes() == two.output.read_bytes()
    assert sorted(["mix" in one.computed, "mix" in two.computed]) == [False, True]
    gains = [e.record["parameters"]["gains_db"]["vocals"] for e in _entries(world.cache, "mix")]
    assert gains.count(1.5) == 1


def test_steps_that_need_no_plugin_run_without_plugins(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_LOAD_PLUGINS", "")
    reset_plugin_host()
    before = len(world.cache.entries())
    with pytest.raises(UrvcError, match="install urvc-effects-pedalboard"):
        world.cover(effects=["reverb"], output=world.folder / "none")
    with pytest.raises(UrvcError, match=r"'pitch-shift'.*install urvc-effects-pedalboard"):
        world.cover(effects=[], pitch=2, follow_pitch="key", output=world.folder / "none")
    with pytest.raises(UrvcError, match="install urvc-effects-pedalboard"):
        world.cover(effects=[], effects_preset="clean", output=world.folder / "none")
    with pytest.raises(UrvcError, match="install urvc-separator-mdx"):
        world.cover(effects=[], separation="karaoke", output=world.folder / "none")
    assert len(world.cache.entries()) == before  # refused before any work
    assert not (world.folder / "none").exists()
    plain = world.cover(effects=[], follow_pitch="none", output=world.folder / "plain")
    assert plain.output.is_file()
    assert plain.pitch["instrumental"] == 0.0


@needs_pedalboard
def test_karaoke_backup_vocals_follow_the_shift_in_parallel(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urvc_core.cover

    # Worker processes even for 4 s of audio, to run the parallel path.
    monkeypatch.setattr(urvc_core.cover, "_PARALLEL_SHIFT_MIN_SECONDS", 0.0)
    result = world.cover(
        separator_steps=["karaoke=dsp-center"],
        instrumental_pitch=-1,
        output=world.folder / "karaoke",
    )
    assert "pitch-shift:instrumental" in result.computed
    assert "pitch-shift:backup" in result.computed
    # The worker's shift is the very one the registry's effect makes here.
    instrumental = load_audio(result.intermediates["instrumental"])
    expected = get_backend("effect", "pitch-shift", semitones=-1.0).apply(instrumental)  # type: ignore[attr-defined]
    shifted = load_audio(result.intermediates["instrumental_shifted"])
    np.testing.assert_allclose(shifted.samples, expected.samples, atol=1e-6)


@needs_pedalboard
def test_backup_vocals_converted_with_another_voice(world: World, backend_calls: list[str]) -> None:
    other = build_voice_model_file(world.folder / "Other Voice.pth", version="v1", seed=3)
    result = world.cover(
        separator_steps=["karaoke=dsp-center"],
        convert_backup=True,
        backup_model=other,
        output=world.folder / "backup",
    )
    assert "convert:backup" in result.computed
    assert "convert" in result.cache_hits  # the lead was converted by the previous test
    assert "pitch-shift:backup" not in [s.name for s in result.steps]
    assert "voice:Other Voice.pth" in backend_calls
    with pytest.raises(UrvcError, match="needs the karaoke step"):
        world.cover(convert_backup=True)


def test_dropping_intermediates_empties_the_cache_of_this_cover(
    world: World, tmp_path: Path
) -> None:
    copy = StepCache(tmp_path / "cache")
    shutil.copytree(world.cache.root, copy.root, ignore=shutil.ignore_patterns(".locks"))
    before = len(copy.entries())
    result = make_cover(
        world.song,
        world.model,
        cache=copy,
        output=tmp_path / "out",
        keep_intermediates=False,
        **world.options,
    )
    assert result.output.is_file() and result.intermediates == {}
    assert len(copy.entries()) == before - len(result.cache_hits)


def test_output_file_format_rate_and_name_template(world: World, tmp_path: Path) -> None:
    named = world.cover(name_template="{voice} - {song} [{pitch}]", output=tmp_path)
    expected_pitch = "+2" if HAS_PEDALBOARD else "+0"
    assert named.output.name == f"Tiny Voice - Test Song [{expected_pitch}].mp3"
    exact = world.cover(output=tmp_path / "cover.flac", output_sample_rate=48000)
    info = audio_info(exact.output)
    assert (exact.output.name, info.format, info.sample_rate) == ("cover.flac", "flac", 48000)
    assert info.frames == round(audio_info(world.song).frames * 48000 / 44100)
    with pytest.raises(UrvcError, match="name template"):
        world.cover(name_template="{song} {nope}")


def test_a_batch_loads_the_voice_once(
    world: World, tmp_path: Path, backend_calls: list[str]
) -> None:
    songs = tmp_path / "songs"
    songs.mkdir()
    for seed in (5, 6):
        mix = centre_panned_speech_mix(44100, seed=seed).mixture
        save_audio(_first_two_seconds(mix), songs / f"Song {seed}.flac")
    results = make_covers(
        [songs], world.model, cache=world.cache, output=tmp_path / "out", **world.options
    )
    assert [r.output.name for r in results] == [
        "Song 5 (Tiny Voice Ver).mp3",
        "Song 6 (Tiny Voice Ver).mp3",
    ]
    assert [c for c in backend_calls if c.startswith("voice:")] == ["voice:Tiny Voice.pth"]
    assert all("convert" in r.computed for r in results)


def _first_two_seconds(audio: Audio) -> Audio:
    return Audio(audio.samples[:, : 2 * audio.sample_rate], audio.sample_rate)


def test_urvc_cover_json(world: World) -> None:
    completed = subprocess.run(
        [
            URVC,
            "cover",
            str(world.song),
            "-m",
            str(world.model),
            "-o",
            str(world.folder / "cli"),
            "--separation",
            "center",
            "--embedder",
            str(world.embedder),
            "--f0-method",
            "pm",
            *(
                [
                    "--pitch",
                    "2",
                    "-e",
                    "highpass:cutoff_frequency_hz=100",
                    "-e",
                    "reverb:room_size=0.2,wet_level=0.2",
                ]
                if HAS_PEDALBOARD
                else []
            ),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=_env(world),
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    record = json.loads(completed.stdout)[0]
    assert record["output"] == str(world.folder / "cli" / "Test Song (Tiny Voice Ver).mp3")
    assert "mix" in record["cache_hits"] and "convert" in record["cache_hits"]
    assert record["mix"]["target_lufs"] == pytest.approx(
        integrated_loudness(load_audio(world.song)), abs=0.01
    )


def _env(world: World) -> dict[str, str]:
    import os

    return {**os.environ, "URVC_HOME": str(world.home)}


@pytest.mark.parametrize("problem", ["missing file", "corrupt audio"])
def test_bad_songs_are_one_line_errors(world: World, tmp_path: Path, problem: str) -> None:
    song = tmp_path / "song.wav"
    if problem == "corrupt audio":
        song.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 40)
    completed = subprocess.run(
        [
            URVC,
            "cover",
            str(song),
            "-m",
            str(world.model),
            "-o",
            str(tmp_path / "out"),
            "--separation",
            "center",
            "--embedder",
            str(world.embedder),
        ],
        capture_output=True,
        text=True,
        env=_env(world),
        timeout=300,
    )
    assert completed.returncode == 1
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and str(song) in lines[0], lines
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_model_is_a_one_line_error(world: World, tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        cli,
        [
            "cover",
            str(world.song),
            "-m",
            "No Such Voice",
            "-o",
            str(tmp_path / "out"),
            "--separation",
            "center",
        ],
    )
    assert outcome.exit_code == 1 and isinstance(outcome.exception, SystemExit)
    assert "There is no voice model named 'No Such Voice'" in outcome.output
    assert not (tmp_path / "out").exists()


# -- steps beside the conversion ---------------------------------------------------------


def _karaoke_cover(world: World, cache: StepCache, output: Path, **changes: Any) -> CoverResult:
    options = {
        **world.options,
        "separator_steps": ["karaoke=dsp-center"],
        "output": output,
        **changes,
    }
    return make_cover(world.song, world.model, cache=cache, **options)


@needs_pedalboard
def test_shifting_beside_the_conversion_changes_nothing_but_the_timing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urvc_core.cover

    # Beside the conversion even for 4 s of audio, and on a CPU whose cores torch uses.
    monkeypatch.setattr(urvc_core.cover, "_PARALLEL_SHIFT_MIN_SECONDS", 0.0)
    monkeypatch.setattr(urvc_core.cover, "_SHIFT_WHILE_CONVERTING", True)
    beside = _karaoke_cover(world, StepCache(tmp_path / "beside"), tmp_path / "beside")
    monkeypatch.setattr(urvc_core.cover, "_SHIFT_WHILE_CONVERTING", False)
    in_turn = _karaoke_cover(world, StepCache(tmp_path / "in-turn"), tmp_path / "in-turn")

    def described(result: CoverResult) -> list[tuple[str, str | None, bool]]:
        return [(step.name, step.key, step.cached) for step in result.steps]

    assert described(beside) == described(in_turn)
    assert [name for name, _, _ in described(beside)] == [
        "source",
        "separate.vocals",
        "separate.karaoke",
        "convert",
        "effects",
        "pitch-shift:instrumental",
        "pitch-shift:backup",
        "mix",
        "save",
    ]
    assert beside.pitch == in_turn.pitch == {"vocals": 2.0, "instrumental": 2.0}
    assert beside.output.read_bytes() == in_turn.output.read_bytes()
    for role in ("instrumental_shifted", "backup_shifted", "effects"):
        one = load_audio(beside.intermediates[role]).samples
        np.testing.assert_array_equal(one, load_audio(in_turn.intermediates[role]).samples)

    steps = {step.name: step for step in beside.steps}
    convert, shift = steps["convert"], steps["pitch-shift:instrumental"]
    assert convert.started is not None and shift.started is not None
    # The shift ran while the lead vocals converted...
    assert shift.started < convert.started + convert.seconds
    assert convert.started < shift.started + shift.seconds
    # ...and not in the cover run in turn.
    steps = {step.name: step for step in in_turn.steps}
    convert, shift = steps["convert"], steps["pitch-shift:instrumental"]
    assert convert.started is not None and shift.started is not None
    assert shift.started >= convert.started + convert.seconds


@needs_pedalboard
def test_a_failing_shift_beside_the_conversion_is_the_same_error(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urvc_core.cover

    monkeypatch.setattr(urvc_core.cover, "_PARALLEL_SHIFT_MIN_SECONDS", 0.0)
    # The cover takes 48 semitones; the pitch-shift effect, in the worker, 24.
    errors = []
    for beside in (True, False):
        monkeypatch.setattr(urvc_core.cover, "_SHIFT_WHILE_CONVERTING", beside)
        cache = StepCache(tmp_path / f"cache-{beside}")
        with pytest.raises(UrvcError) as caught:
            _karaoke_cover(world, cache, tmp_path / "out", instrumental_pitch=30)
        errors.append(caught.value)
        assert not [e for e in cache.entries() if e.step == "pitch-shift"]
        assert not any((cache.root / ".staging").iterdir())
    assert type(errors[0]) is type(errors[1])
    assert str(errors[0]) == str(errors[1])
    assert "30" in str(errors[0]) and "\n" not in str(errors[0])
    assert not (tmp_path / "out").exists()


@needs_pedalboard
def test_a_failing_shift_stops_the_conversion_beside_it(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import urvc_core.cover

    monkeypatch.setattr(urvc_core.cover, "_PARALLEL_SHIFT_MIN_SECONDS", 0.0)
    monkeypatch.setattr(urvc_core.cover, "_SHIFT_WHILE_CONVERTING", True)
    convert = conversion.VoiceConverter.convert

    def long_conversion(self: Any, audio: Any, request: Any = None, *, progress: Any) -> Any:
        # A conversion far longer than the shift: it reports progress until stopped.
        result = convert(self, audio, request, progress=progress)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            progress(0.99)
            time.sleep(0.05)
        return result

    monkeypatch.setattr(conversion.VoiceConverter, "convert", long_conversion)
    cache = StepCache(tmp_path / "cache")
    started = time.monotonic()
    with pytest.raises(UrvcError, match="30"):
        _karaoke_cover(world, cache, tmp_path / "out", instrumental_pitch=30)
    assert time.monotonic() - started < 100
    assert sorted(e.step for e in cache.entries()) == ["separate.karaoke", "separate.vocals"]
    assert not any((cache.root / ".staging").iterdir())


@needs_pedalboard
def test_a_failing_conversion_waits_for_the_shift_beside_it(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urvc_core.cover

    monkeypatch.setattr(urvc_core.cover, "_PARALLEL_SHIFT_MIN_SECONDS", 0.0)
    monkeypatch.setattr(urvc_core.cover, "_SHIFT_WHILE_CONVERTING", True)

    def fails(self: Any, audio: Any, settings: Any, progress: Any = None) -> Any:
        raise RuntimeError("out of memory in the synthesizer")

    monkeypatch.setattr(conversion.VoiceConverter, "convert", fails)
    cache = StepCache(tmp_path / "cache")
    with pytest.raises(RuntimeError, match="out of memory"):
        _karaoke_cover(world, cache, tmp_path / "out")
    # The shifts under way when the conversion failed ended whole; nothing half-written.
    assert not any((cache.root / ".staging").iterdir())
    assert not [e for e in cache.entries() if e.step == "convert"]
    for entry in cache.entries():
        for name in entry.outputs:
            assert entry.path(name).is_file()
    assert not (tmp_path / "out").exists()


def test_the_shift_goes_beside_the_conversion_when_a_core_is_free() -> None:
    import os

    import torch

    from urvc_core.cover import _core_free_while_converting
    from urvc_core.devices import resolve_device

    if resolve_device("auto") != "cpu":
        pytest.skip("converts on a GPU here, which always leaves the CPU free")
    threads = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0))
    try:
        torch.set_num_threads(cores)
        assert not _core_free_while_converting()
        if cores > 1:
            torch.set_num_threads(cores - 1)
            assert _core_free_while_converting()
    finally:
        torch.set_num_threads(threads)
