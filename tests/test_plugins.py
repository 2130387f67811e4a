"""Plugin discovery and loading: entry points, broken plugins, clashes, the env switches."""

from __future__ import annotations

import json
from typing import Any

import pytest

from urvc_core.backends import BackendKind
from urvc_core.errors import BackendError, BackendNotFoundError, PluginConflictError, UrvcError
from urvc_core.plugins import PluginHost

PITCH_PLUGIN = """
    import numpy as np
    from urvc_core import F0Extractor, hookimpl

    class FlatPitch(F0Extractor):
        name = "flat"
        description = "Reports 200 Hz everywhere (a test plugin)"

        def extract_f0(self, samples, sample_rate, *, hop_length=160, f0_min=50.0, f0_max=1100.0):
            return np.full(len(samples) // hop_length + 1, 200.0, dtype=np.float32)

    @hookimpl
    def register_f0_extractors(register):
        register(FlatPitch)
"""


def test_builtin_backends_register_through_the_hooks(run_urvc: Any) -> None:
    host = PluginHost()
    builtin = {r.name for r in host.plugins(include_builtin=True) if r.builtin}
    assert builtin == {
        "urvc_core.builtin.classic_f0",
        "urvc_core.builtin.neural_f0",
        "urvc_core.builtin.hubert_embedders",
        "urvc_core.builtin.dsp_separator",
        "urvc_core.builtin.loudness_effects",
        "urvc_core.builtin.weighted_fusion",
        "urvc_core.builtin.edge_tts_engine",
        "urvc_core.builtin.voice_catalogue_asset",
        "urvc_core.builtin.pretrained_assets",
    }
    assert not host.failures
    assert {"pm", "harvest", "dio"} <= set(host.registry.names(BackendKind.F0_EXTRACTOR))
    assert host.registry.info("f0", "harvest").plugin == "urvc_core.builtin.classic_f0"
    assert "dsp-center" in host.registry.names("separator")
    assert host.registry.info("tts", "edge").plugin == "urvc_core.builtin.edge_tts_engine"


def test_entry_point_plugin_is_discovered_and_usable(add_distribution: Any, run_urvc: Any) -> None:
    add_distribution("urvc-flat-pitch", "urvc_flat_pitch", PITCH_PLUGIN)
    host = PluginHost()
    record = next(r for r in host.plugins() if r.name == "urvc-flat-pitch")
    assert record.error is None
    assert record.version == "1.0"
    assert record.hooks == ["register_f0_extractors"]
    extractor = host.registry.create("f0", "flat")
    import numpy as np

    f0 = extractor.extract_f0(np.zeros(16000, dtype=np.float32), 16000)  # type: ignore[attr-defined]
    assert f0.shape == (101,)
    assert np.all(f0 == 200.0)


def test_plugin_that_fails_to_import_is_reported_and_others_work(
    add_distribution: Any, run_urvc: Any
) -> None:
    add_distribution("urvc-broken", "urvc_broken", "import not_a_real_module_xyz\n")
    add_distribution("urvc-flat-pitch", "urvc_flat_pitch", PITCH_PLUGIN)
    host = PluginHost()
    broken = next(r for r in host.plugins() if r.name == "urvc-broken")
    assert broken.error is not None and "not_a_real_module_xyz" in broken.error
    assert "flat" in host.registry.names("f0")

    listed = run_urvc("plugins", "list", "--json")
    assert listed.exit_code == 0
    by_name = {p["name"]: p for p in json.loads(listed.stdout)}
    assert "not_a_real_module_xyz" in by_name["urvc-broken"]["error"]
    assert by_name["urvc-flat-pitch"]["error"] is None
    assert "urvc-broken failed to load" in listed.stderr

    backends = run_urvc("backends", "f0")
    assert backends.exit_code == 0
    assert "flat" in backends.stdout
    assert "Traceback" not in backends.stderr


def test_plugin_whose_hook_raises_is_reported_and_its_backends_dropped(
    add_distribution: Any, run_urvc: Any
) -> None:
    source = PITCH_PLUGIN.replace(
        "        register(FlatPitch)",
        "        register(FlatPitch)\n        raise RuntimeError('boom')",
    )
    add_distribution("urvc-half", "urvc_half", source)
    host = PluginHost()
    record = next(r for r in host.plugins() if r.name == "urvc-half")
    assert record.error is not None and "boom" in record.error
    assert "flat" not in host.registry.names("f0")


def test_registering_a_class_of_the_wrong_kind_is_a_plugin_failure(
    add_distribution: Any, run_urvc: Any
) -> None:
    source = """
        from urvc_core import Effect, hookimpl

        class NotAPitchTracker(Effect):
            name = "oops"

        @hookimpl
        def register_f0_extractors(register):
            register(NotAPitchTracker)
    """
    add_distribution("urvc-wrong-kind", "urvc_wrong_kind", source)
    host = PluginHost()
    record = next(r for r in host.plugins() if r.name == "urvc-wrong-kind")
    assert record.error is not None
    assert "not a subclass of urvc_core.F0Extractor" in record.error


def test_hook_with_a_misspelled_name_or_argument_fails_loudly(
    add_distribution: Any, run_urvc: Any
) -> None:
    misspelled = """
        from urvc_core import hookimpl

        @hookimpl
        def register_effect(register):
            pass
    """
    wrong_argument = """
        from urvc_core import hookimpl

        @hookimpl
        def register_effects(registry):
            pass
    """
    add_distribution("urvc-misspelled", "urvc_misspelled", misspelled)
    add_distribution("urvc-wrong-arg", "urvc_wrong_arg", wrong_argument)
    host = PluginHost()
    errors = {r.name: r.error for r in host.plugins()}
    assert errors["urvc-misspelled"] is not None and "register_effect" in errors["urvc-misspelled"]
    assert errors["urvc-wrong-arg"] is not None and "registry" in errors["urvc-wrong-arg"]


def test_two_plugins_claiming_one_name_stop_start_up_naming_both(
    add_distribution: Any, run_urvc: Any
) -> None:
    add_distribution("urvc-flat-a", "urvc_flat_a", PITCH_PLUGIN)
    add_distribution("urvc-flat-b", "urvc_flat_b", PITCH_PLUGIN)
    with pytest.raises(PluginConflictError, match="urvc-flat-a and urvc-flat-b"):
        PluginHost()

    result = run_urvc("backends")
    assert result.exit_code == 1
    assert "Two plugins register a f0 extractor named 'flat'" in result.stderr or (
        "named 'flat'" in result.stderr
    )
    assert "urvc-flat-a" in result.stderr and "urvc-flat-b" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    # The way out: load only one of them.
    chosen = run_urvc("backends", "f0", env={"URVC_LOAD_PLUGINS": "urvc-flat-a"})
    assert chosen.exit_code == 0
    assert "urvc-flat-a" in chosen.stdout


def test_a_plugin_cannot_take_a_builtin_name(add_distribution: Any, run_urvc: Any) -> None:
    add_distribution("urvc-harvest2", "urvc_harvest2", PITCH_PLUGIN.replace('"flat"', '"harvest"'))
    with pytest.raises(
        PluginConflictError, match=r"urvc_core\.builtin\.classic_f0 and urvc-harvest2"
    ):
        PluginHost()


def test_load_plugins_setting_empty_loads_none_but_builtins(
    add_distribution: Any, run_urvc: Any
) -> None:
    add_distribution("urvc-flat-pitch", "urvc_flat_pitch", PITCH_PLUGIN)
    host = PluginHost(load_setting="")
    assert host.plugins() == []
    assert "flat" not in host.registry.names("f0")
    assert "harvest" in host.registry.names("f0")

    result = run_urvc("plugins", "list", "--json", env={"URVC_LOAD_PLUGINS": ""})
    assert json.loads(result.stdout) == []


def test_trace_prints_every_hook_call(add_distribution: Any, run_urvc: Any) -> None:
    add_distribution("urvc-flat-pitch", "urvc_flat_pitch", PITCH_PLUGIN)
    result = run_urvc("backends", "f0", env={"URVC_TRACE_PLUGINS": "1"})
    assert result.exit_code == 0
    assert "urvc trace: calling register_f0_extractors on urvc-flat-pitch" in result.stderr
    assert "urvc trace: urvc-flat-pitch registered f0 extractor 'flat'" in result.stderr
    assert "calling register_f0_extractors on urvc_core.builtin.classic_f0" in result.stderr


def test_plugin_commands_are_added_to_the_cli(add_distribution: Any, run_urvc: Any) -> None:
    source = """
        import click
        from urvc_core import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            @click.argument("who")
            def greet(who):
                "Say hello."
                click.echo(f"hello {who}")
    """
    add_distribution("urvc-greet", "urvc_greet", source)
    result = run_urvc("greet", "voice")
    assert result.exit_code == 0
    assert result.stdout == "hello voice\n"
    assert "greet" in run_urvc("--help").stdout


def test_unknown_backend_name_lists_what_is_installed(run_urvc: Any) -> None:
    host = PluginHost()
    with pytest.raises(BackendNotFoundError) as caught:
        host.registry.create("f0", "harvset")
    message = str(caught.value)
    assert "Did you mean 'harvest'?" in message
    assert "dio" in message and "pm" in message

    result = run_urvc("backends", "f0", "harvset")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: There is no f0 extractor named 'harvset'.")
    assert "Traceback" not in result.stderr


def test_unknown_kind_is_a_clear_error(run_urvc: Any) -> None:
    result = run_urvc("backends", "vocoder")
    assert result.exit_code == 1
    assert "There is no backend kind 'vocoder'" in result.stderr
    assert "separator, f0, embedder, tts, effect, fusion" in result.stderr


def test_a_backend_bug_reaches_the_user_naming_plugin_and_backend(add_distribution: Any) -> None:
    add_distribution(
        "urvc-buggy",
        "urvc_buggy",
        """
        from urvc_core import F0Extractor, UrvcError, hookimpl

        class Buggy(F0Extractor):
            name = "buggy"

            def extract_f0(self, samples, sample_rate, *, hop_length=160, f0_min=50.0, f0_max=1100.0):
                if sample_rate != 16000:
                    raise UrvcError("buggy only takes 16 kHz audio; resample it first.")
                return {}["missing key"]

        @hookimpl
        def register_f0_extractors(register):
            register(Buggy)
        """,
    )
    import numpy as np

    extractor = PluginHost().registry.create("f0", "buggy")
    with pytest.raises(BackendError) as caught:
        extractor.extract_f0(np.zeros(160, dtype=np.float32), 16000)  # type: ignore[attr-defined]
    assert str(caught.value).startswith(
        "f0 extractor backend 'buggy' (plugin urvc-buggy) failed: 'missing key'."
    )
    assert isinstance(caught.value.__cause__, KeyError)
    # An error the backend raises for the user passes through unchanged.
    with pytest.raises(UrvcError, match=r"^buggy only takes 16 kHz audio"):
        extractor.extract_f0(np.zeros(160, dtype=np.float32), 8000)  # type: ignore[attr-defined]
