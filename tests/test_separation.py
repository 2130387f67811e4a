"""Separation chains: presets, plans, missing plugins, cached steps, `urvc separate`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from urvc_core.audio import load_audio, save_audio
from urvc_core.cache import StepCache
from urvc_core.cli import cli
from urvc_core.errors import InvalidSettingError, UrvcError
from urvc_core.plugins import reset_plugin_host
from urvc_core.registry import Registry
from urvc_core.separation import (
    SeparationStep,
    list_presets,
    parse_step_spec,
    plan_separation,
    separate_song,
)
from urvc_core.testing import centre_panned_speech_mix, sdr_db

HAS_MDX = importlib.util.find_spec("urvc_separator_mdx") is not None


@pytest.fixture
def backend_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every backend the registry hands out, by name."""
    calls: list[str] = []
    create = Registry.create

    def spy(self: Registry, kind: Any, name: str, **settings: Any) -> Any:
        calls.append(name)
        return create(self, kind, name, **settings)

    monkeypatch.setattr(Registry, "create", spy)
    return calls


@pytest.fixture
def without_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URVC_LOAD_PLUGINS", "")
    reset_plugin_host()


def test_presets_list_their_steps_models_and_plugins() -> None:
    presets = {preset.name: (preset, plugin) for preset, plugin in list_presets()}
    assert presets["center"][1] == "urvc_core.builtin.dsp_separator"
    assert [s.separator for s in presets["center"][0].steps] == ["dsp-center"]
    if not HAS_MDX:
        return
    isolated = {
        preset
        for preset, package in (("spleeter", "urvc_separator_spleeter"), ("asteroid", "urvc_separator_asteroid"))
        if importlib.util.find_spec(package)
    }
    assert set(presets) == {"center", "vocals", "karaoke", "dereverb", "lead-clean"} | isolated
    lead_clean, plugin = presets["lead-clean"]
    assert plugin == "urvc-separator-mdx"
    assert [s.step for s in lead_clean.steps] == ["vocals", "karaoke", "dereverb"]
    assert lead_clean.steps[1].settings["model"] == "UVR_MDXNET_KARA_2.onnx"


@pytest.mark.skipif(not HAS_MDX, reason="the urvc-separator-mdx plugin is not installed")
def test_auto_is_lead_clean_with_the_mdx_plugin() -> None:
    plan, notes = plan_separation()
    assert [(s.step, s.separator) for s in plan] == [
        ("vocals", "mdx"),
        ("karaoke", "mdx"),
        ("dereverb", "mdx"),
    ]
    assert "lead-clean" in notes[0]


def test_auto_offline_without_weights_is_center(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the plugin installed, auto would pick lead-clean but for the missing weights;
    # the numpy-1 environment (make test-numpy1) has no plugins, so nothing to test there.
    pytest.importorskip("urvc_separator_mdx")
    monkeypatch.setenv("URVC_OFFLINE", "1")
    plan, notes = plan_separation("auto")
    assert [s.separator for s in plan] == ["dsp-center"]
    assert "offline" in notes[0]


def test_without_the_mdx_plugin(without_plugins: None) -> None:
    plan, notes = plan_separation()
    assert [s.separator for s in plan] == ["dsp-center"]
    assert "urvc-separator-mdx" in notes[0]
    for preset in ("vocals", "karaoke", "lead-clean"):
        with pytest.raises(UrvcError, match="install urvc-separator-mdx"):
            plan_separation(preset)
    with pytest.raises(UrvcError, match="The karaoke step needs the separator 'mdx': install"):
        plan_separation("center", ["karaoke=mdx:model=UVR_MDXNET_KARA_2.onnx"])


def test_steps_are_overridden_skipped_and_checked() -> None:
    pytest.importorskip("urvc_separator_mdx")  # lead-clean's steps check their separators
    plan, _ = plan_separation("center", ["vocals=dsp-center:n_fft=2048,mask-exponent=4"])
    assert plan[0].settings == {"n_fft": 2048, "mask_exponent": 4.0, "low_cut_hz": 70.0}
    plan, _ = plan_separation("lead-clean", skip=["karaoke"])
    assert [s.step for s in plan] == ["vocals", "dereverb"]
    with pytest.raises(InvalidSettingError, match=r"vocals step.*n_fft"):
        plan_separation("center", ["vocals=dsp-center:n_fft=1000"])
    with pytest.raises(UrvcError, match="no separation step 'chorus'"):
        plan_separation("center", skip=["chorus"])
    with pytest.raises(UrvcError, match="Malformed separation step"):
        parse_step_spec("vocals")
    with pytest.raises(UrvcError, match="no separation preset"):
        plan_separation("everything")
    assert parse_step_spec("karaoke=mdx:model=a.onnx").spec() == "karaoke=mdx:model=a.onnx"


def test_separate_song_with_the_built_in_separator_is_cached(
    tmp_path: Path, backend_calls: list[str]
) -> None:
    song = centre_panned_speech_mix(44100)
    cache = StepCache(tmp_path / "cache")
    stems = separate_song(song.mixture, "center", cache=cache)
    assert set(stems) == {"vocals", "instrumental", "main", "lead"}
    assert stems["lead"] is stems["vocals"]
    assert sdr_db(song.vocals.samples, stems["vocals"].samples) > 8.0
    np.testing.assert_allclose(
        stems["vocals"].samples + stems["instrumental"].samples, song.mixture.samples, atol=1e-5
    )
    assert backend_calls == ["dsp-center"]
    again = separate_song(song.mixture, "center", cache=cache)
    assert backend_calls == ["dsp-center"]  # served from the cache
    np.testing.assert_array_equal(again["vocals"].samples, stems["vocals"].samples)


def test_a_karaoke_step_takes_any_separator_s_two_stems(tmp_path: Path) -> None:
    song = centre_panned_speech_mix(44100)
    stems = separate_song(
        song.mixture,
        "center",
        steps=[SeparationStep("karaoke", "dsp-center", {})],
        cache=StepCache(tmp_path / "cache"),
    )
    assert set(stems) == {"vocals", "instrumental", "main", "backup", "lead"}
    assert stems["lead"] is stems["main"]


def test_without_the_vocals_step_the_song_is_the_vocals(tmp_path: Path) -> None:
    voice = centre_panned_speech_mix(44100).vocals
    stems = separate_song(
        voice,
        "center",
        steps=[SeparationStep("dereverb", "dsp-center", {})],
        skip=["vocals"],
        cache=StepCache(tmp_path / "cache"),
    )
    assert "instrumental" not in stems
    assert stems["vocals"] is not stems["lead"] and "dry" in stems


def test_urvc_separate_writes_the_stems(tmp_path: Path, urvc_home: Path) -> None:
    song = save_audio(centre_panned_speech_mix(44100).mixture, tmp_path / "Song.flac")
    runner = CliRunner()
    presets = runner.invoke(cli, ["separate", "--list-presets"])
    assert "center" in presets.output and "dsp-center" in presets.output
    assert ("lead-clean" in presets.output) == HAS_MDX  # a plugin's presets come with it
    outcome = runner.invoke(
        cli,
        ["separate", str(song), "--separation", "center", "-o", str(tmp_path / "stems"), "--json"],
    )
    assert outcome.exit_code == 0, outcome.output
    files = json.loads(outcome.output)[0]["files"]
    assert sorted(Path(f).name for f in files.values()) == [
        "Song (Instrumental).wav",
        "Song (Vocals).wav",
    ]
    vocals = load_audio(files["vocals"])
    assert vocals.sample_rate == 44100 and vocals.channels == 2
    missing = runner.invoke(cli, ["separate", str(tmp_path / "nope.wav"), "--separation", "center"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
