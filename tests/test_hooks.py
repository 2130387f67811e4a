"""One test per hook: an installed plugin implements it, and urvc uses what it gives.

tests/test_docs.py checks that every hookspec has a test here named ``test_hook_<name>``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.plugins import PluginHost


def _registered(add_distribution: Any, kind: str, source: str) -> Any:
    add_distribution("urvc-hook-test", "urvc_hook_test", source)
    host = PluginHost()
    record = next(r for r in host.plugins() if r.name == "urvc-hook-test")
    assert record.error is None, record.error
    names = host.registry.names(kind)
    assert "hook-test" in names
    info = host.registry.info(kind, "hook-test")
    assert info.plugin == "urvc-hook-test"
    return host.registry.create(kind, "hook-test")


def test_hook_register_separators(add_distribution: Any) -> None:
    separator = _registered(
        add_distribution,
        "separator",
        """
        from urvc_core import Audio, Separator, hookimpl

        class MidSide(Separator):
            name = "hook-test"
            stems = ("Mid", "Side")

            def separate(self, audio):
                left, right = audio.samples[0], audio.samples[-1]
                mid, side = (left + right) / 2, (left - right) / 2
                return {"Mid": Audio([mid, mid], audio.sample_rate),
                        "Side": Audio([side, -side], audio.sample_rate)}

        @hookimpl
        def register_separators(register):
            register(MidSide)
    """,
    )
    rng = np.random.default_rng(0)
    stereo = Audio(rng.uniform(-0.5, 0.5, (2, 1000)).astype(np.float32), 44100)
    stems = separator.separate(stereo)
    assert set(stems) == {"Mid", "Side"}
    np.testing.assert_allclose(
        stems["Mid"].samples + stems["Side"].samples, stereo.samples, atol=1e-6
    )


def test_hook_register_f0_extractors(add_distribution: Any) -> None:
    extractor = _registered(
        add_distribution,
        "f0",
        """
        import numpy as np
        from urvc_core import F0Extractor, hookimpl

        class Constant(F0Extractor):
            name = "hook-test"

            def extract_f0(self, samples, sample_rate, *, hop_length=160, f0_min=50.0, f0_max=1100.0):
                return np.full(self.frame_count(len(samples), hop_length), 123.0, dtype=np.float32)

        @hookimpl
        def register_f0_extractors(register):
            register(Constant)
    """,
    )
    f0 = extractor.extract_f0(np.zeros(3200, dtype=np.float32), 16000)
    assert f0.shape == (21,) and float(f0[0]) == 123.0


def test_hook_register_embedders(add_distribution: Any) -> None:
    embedder = _registered(
        add_distribution,
        "embedder",
        """
        import numpy as np
        from urvc_core import Embedder, hookimpl

        class FrameEnergy(Embedder):
            name = "hook-test"

            def embed(self, samples, *, layer=12, project=False):
                frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
                return np.repeat((frames ** 2).mean(axis=1, keepdims=True), 4, axis=1)

        @hookimpl
        def register_embedders(register):
            register(FrameEnergy)
    """,
    )
    features = embedder.embed(np.ones(16000, dtype=np.float32))
    assert features.shape == (50, 4)


def test_hook_register_tts_engines(add_distribution: Any) -> None:
    engine = _registered(
        add_distribution,
        "tts",
        """
        import numpy as np
        from urvc_core import Audio, TTSEngine, hookimpl

        class Beeper(TTSEngine):
            name = "hook-test"

            def voices(self):
                return ["beep"]

            def synthesize(self, text, *, voice=None, speed=1.0):
                t = np.arange(int(0.1 * 16000 * len(text))) / 16000
                return Audio(0.1 * np.sin(2 * np.pi * 440 * t), 16000)

        @hookimpl
        def register_tts_engines(register):
            register(Beeper)
    """,
    )
    assert engine.voices() == ["beep"]
    assert engine.synthesize("hello").duration == 0.5
    # What the base class builds on voices(): details, and a voice name checked.
    assert [v.name for v in engine.voice_details()] == ["beep"]
    assert engine.check_voice("BEEP") == "beep"
    with pytest.raises(UrvcError, match="has no voice 'bep' \\(did you mean 'beep'\\?\\)"):
        engine.check_voice("bep")


def test_hook_register_effects(add_distribution: Any) -> None:
    effect = _registered(
        add_distribution,
        "effect",
        """
        from urvc_core import Audio, Effect, Setting, hookimpl

        class Gain(Effect):
            name = "hook-test"
            settings = (Setting("gain_db", float, -6.0, "Gain.", unit="dB", minimum=-60, maximum=24),)

            def apply(self, audio):
                return Audio(audio.samples * 10 ** (self.options["gain_db"] / 20), audio.sample_rate)

        @hookimpl
        def register_effects(register):
            register(Gain)
    """,
    )
    louder = effect.apply(Audio(np.full((1, 100), 0.5, dtype=np.float32), 16000))
    assert abs(20 * np.log10(louder.samples[0, 0] / 0.5) - (-6.0)) < 1e-4


def test_hook_register_fusion_methods(add_distribution: Any) -> None:
    fusion = _registered(
        add_distribution,
        "fusion",
        """
        from urvc_core import FusionMethod, hookimpl

        class TakeFirst(FusionMethod):
            name = "hook-test"

            def fuse(self, models, weights):
                return dict(models[0])

        @hookimpl
        def register_fusion_methods(register):
            register(TakeFirst)
    """,
    )
    assert fusion.fuse([{"a": 1}, {"a": 2}], [0.5, 0.5]) == {"a": 1}


def test_hook_register_assets(add_distribution: Any, run_urvc: Any) -> None:
    add_distribution(
        "urvc-asset-test",
        "urvc_asset_test",
        """
        from urvc_core import Asset, hookimpl

        @hookimpl
        def register_assets(register):
            register(Asset(
                name="test-weights",
                url="http://127.0.0.1:9/weights.pt",
                filename="asset-test/weights.pt",
                sha256="0" * 64,
            ))
    """,
    )
    host = PluginHost()
    _, plugin = host.assets["test-weights"]
    assert plugin == "urvc-asset-test"
    listed = run_urvc("assets", "list", "--json")
    assert listed.exit_code == 0
    (entry,) = [a for a in json.loads(listed.stdout) if a["plugin"] == "urvc-asset-test"]
    assert entry["name"] == "test-weights" and entry["present"] is False
    assert entry["path"].endswith("assets/asset-test/weights.pt")
    # Offline, the user is told where to put the file by hand.
    offline = run_urvc("assets", "download", "test-weights", env={"URVC_OFFLINE": "1"})
    assert offline.exit_code == 1
    assert "asset-test/weights.pt" in offline.stderr
    assert "Traceback" not in offline.stderr


def test_hook_register_commands(add_distribution: Any, run_urvc: Any) -> None:
    add_distribution(
        "urvc-command-test",
        "urvc_command_test",
        """
        import click
        from urvc_core import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.group()
            def hooktest():
                "A group from a plugin."

            @hooktest.command()
            @click.option("--times", type=int, default=2)
            def shout(times):
                click.echo("hey " * times)
    """,
    )
    result = run_urvc("hooktest", "shout", "--times", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "hey hey hey"


def test_hook_register_presets(add_distribution: Any, run_urvc: Any) -> None:
    add_distribution(
        "urvc-preset-test",
        "urvc_preset_test",
        """
        from urvc_core import hookimpl
        from urvc_core.presets import EffectPreset, SeparationPreset, SeparationStep

        @hookimpl
        def register_presets(register):
            register(EffectPreset(
                "hook-test", "Louder", (("loudness-normalize", {"target_lufs": -14}),)
            ))
            register(SeparationPreset(
                "hook-test",
                "Centre channel, finer",
                (SeparationStep("vocals", "dsp-center", {"n_fft": 2048}),),
            ))
    """,
    )
    from urvc_core.effects import list_effect_presets, plan_effects
    from urvc_core.separation import list_presets, plan_separation

    assert ("hook-test", "urvc-preset-test") in [(p.name, plugin) for p, plugin in list_effect_presets()]
    (step,) = plan_effects(preset="hook-test")
    assert step.name == "loudness-normalize" and step.settings["target_lufs"] == -14.0
    assert ("hook-test", "urvc-preset-test") in [(p.name, plugin) for p, plugin in list_presets()]
    plan, _ = plan_separation("hook-test")
    assert [(s.step, s.separator, s.settings["n_fft"]) for s in plan] == [
        ("vocals", "dsp-center", 2048)
    ]
    listed = run_urvc("separate", "--list-presets", "--json")
    assert listed.exit_code == 0, listed.stderr
    (entry,) = [p for p in json.loads(listed.stdout) if p["name"] == "hook-test"]
    assert entry["plugin"] == "urvc-preset-test"
