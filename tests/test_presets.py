"""Presets through the register_presets hook: conflicts, broken registrations, ensembles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from urvc_core.cache import StepCache
from urvc_core.errors import PluginConflictError, UrvcError
from urvc_core.plugins import PluginHost, reset_plugin_host
from urvc_core.presets import SeparationStep
from urvc_core.separation import parse_step_spec, plan_separation, separate_song
from urvc_core.testing import centre_panned_speech_mix, sdr_db

_EFFECT_PRESET_PLUGIN = """
from urvc_core import hookimpl
from urvc_core.presets import EffectPreset

@hookimpl
def register_presets(register):
    register(EffectPreset("shared-name", "{description}", (("peak-normalize", {{}}),)))
"""


def test_two_plugins_claiming_one_preset_stop_start_up_naming_both(add_distribution: Any) -> None:
    add_distribution(
        "urvc-presets-one", "urvc_presets_one", _EFFECT_PRESET_PLUGIN.format(description="one")
    )
    add_distribution(
        "urvc-presets-two", "urvc_presets_two", _EFFECT_PRESET_PLUGIN.format(description="two")
    )
    with pytest.raises(PluginConflictError) as raised:
        PluginHost()
    assert "urvc-presets-one" in str(raised.value) and "urvc-presets-two" in str(raised.value)
    assert "shared-name" in str(raised.value)


def test_a_plugin_registering_something_else_fails_alone(add_distribution: Any) -> None:
    add_distribution(
        "urvc-presets-bad",
        "urvc_presets_bad",
        """
        from urvc_core import hookimpl

        @hookimpl
        def register_presets(register):
            register({"name": "not-a-preset"})
    """,
    )
    host = PluginHost()
    assert "EffectPreset or SeparationPreset" in (host.records["urvc-presets-bad"].error or "")
    assert "center" in [preset.name for preset, _ in host.presets.separations()]


def test_unknown_presets_say_what_there_is() -> None:
    with pytest.raises(UrvcError, match=r"no separation preset named 'centre'.*'center'"):
        plan_separation("centre")


def test_without_plugins_the_uvr_presets_name_their_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URVC_LOAD_PLUGINS", "")
    reset_plugin_host()
    with pytest.raises(UrvcError, match="install urvc-separator-mdx"):
        plan_separation("lead-clean")
    plan, notes = plan_separation()
    assert [s.separator for s in plan] == ["dsp-center"] and "urvc-separator-mdx" in notes[0]


def test_a_step_given_twice_is_an_ensemble_cached_as_one_step(tmp_path: Any) -> None:
    plan, _ = plan_separation(
        "center",
        ["vocals=dsp-center:n_fft=2048", "vocals=dsp-center:n_fft=8192"],
        combine=["vocals=mean"],
    )
    (step,) = plan
    assert [m.settings["n_fft"] for m in step.members] == [2048, 8192]
    assert step.combine == "mean" and step.backend == "dsp-center+dsp-center@mean"

    song = centre_panned_speech_mix(44100)
    cache = StepCache(tmp_path / "cache")
    steps = ["vocals=dsp-center:n_fft=2048", "vocals=dsp-center:n_fft=8192"]
    ensemble = separate_song(song.mixture, "center", steps=steps, combine={"vocals": "mean"}, cache=cache)
    first = separate_song(song.mixture, "center", steps=steps[:1], cache=cache)
    second = separate_song(song.mixture, "center", steps=steps[1:], cache=cache)
    # The mean of the two separators' vocals, sample by sample.
    np.testing.assert_allclose(
        ensemble["vocals"].samples,
        (first["vocals"].samples + second["vocals"].samples) / 2,
        atol=1e-6,
    )
    assert sdr_db(song.vocals.samples, ensemble["vocals"].samples) > 8.0
    assert len([e for e in cache.entries() if e.step == "separate.vocals"]) == 3
    # The same ensemble again is one cache hit, whatever the order of its settings' spelling.
    separate_song(song.mixture, "center", steps=steps, combine=["vocals=mean"], cache=cache)
    assert len([e for e in cache.entries() if e.step == "separate.vocals"]) == 3


def test_ensemble_methods_are_checked() -> None:
    with pytest.raises(UrvcError, match="Malformed ensemble method"):
        plan_separation("center", ["vocals=dsp-center", "vocals=dsp-center"], combine=["vocals=avg"])
    with pytest.raises(UrvcError, match="combines several separators"):
        plan_separation("center", combine=["vocals=max"])
    assert parse_step_spec("vocals=dsp-center:n_fft=2048") == SeparationStep(
        "vocals", "dsp-center", {"n_fft": "2048"}
    )
