"""The kernel's effect contract, on every effect, through the plugin's entry point."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from urvc_effects_pedalboard import EFFECT_CLASSES

from urvc_core import Effect, get_backend, list_backends
from urvc_core.testing import EffectConformance, signals

REQUESTED = {
    "reverb",
    "delay",
    "chorus",
    "phaser",
    "distortion",
    "clipping",
    "compressor",
    "gain",
    "limiter",
    "noise-gate",
    "highpass",
    "lowpass",
    "high-shelf",
    "low-shelf",
    "peak",
    "ladder-filter",
    "pitch-shift",
    "convolution",
    "bitcrush",
    "resample",
    "mp3-compressor",
    "gsm-compressor",
}
NAMES = sorted(cls.name for cls in EFFECT_CLASSES)


def test_every_requested_effect_is_there_once() -> None:
    assert sorted(REQUESTED) == NAMES


def test_the_entry_point_registers_every_effect_under_the_plugin_name() -> None:
    registered = {info.name: info.plugin for info in list_backends("effect")}
    for name in NAMES:
        assert registered.get(name) == "urvc-effects-pedalboard", name


@pytest.mark.parametrize("effect_class", EFFECT_CLASSES, ids=lambda c: c.name)
def test_every_setting_is_typed_ranged_and_documented(effect_class: type[Effect]) -> None:
    assert effect_class.description
    for setting in effect_class.settings:
        assert setting.help and setting.help[0].isupper(), (effect_class.name, setting.name)
        if setting.type in (int, float) and setting.choices is None:
            assert setting.minimum is not None and setting.maximum is not None, setting.name
            setting.check(setting.default, effect_class.name)
        if setting.type is str and setting.name != "impulse_response":
            assert setting.choices, (effect_class.name, setting.name)
        if setting.name.endswith(("_db", "_hz", "_ms", "_s")):
            assert setting.unit, (effect_class.name, setting.name)


@pytest.fixture(autouse=True, scope="module")
def mix_made_once_per_rate() -> Iterator[None]:
    """The suite's music-like input, synthesised once per rate instead of once per use.

    Making it takes about 0.7 s at 44.1 kHz, four times per test, 22 effects over: over
    a minute of the same signal made again. The suite copies what it takes from it.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            signals,
            "centre_panned_speech_mix",
            functools.lru_cache(signals.centre_panned_speech_mix),
        )
        yield


class TestEveryEffect(EffectConformance):
    @pytest.fixture(params=NAMES)
    def backend(self, request: pytest.FixtureRequest, impulse_response: Path) -> Effect:
        settings = (
            {"impulse_response": str(impulse_response)} if request.param == "convolution" else {}
        )
        effect = get_backend("effect", request.param, **settings)
        assert isinstance(effect, Effect)
        return effect
