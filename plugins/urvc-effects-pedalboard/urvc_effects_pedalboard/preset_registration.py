"""The plugin's effect presets as the kernel knows them: the built-in ones and the user's
saved ones, registered through ``register_presets``.

They are registered as written, not checked: the hook runs while the kernel is still
filling its registry, and a preset is checked against the effects when it is used. A
user's preset file that can't be read is left out here (so one broken file can't make
the whole plugin fail to load); ``urvc effects presets`` names it.
"""

from __future__ import annotations

from urvc_core.errors import UrvcError
from urvc_core.presets import EffectPreset

PLUGIN_NAME = "urvc-effects-pedalboard"


def effect_presets() -> list[EffectPreset]:
    """The built-in presets, then the user's (a user preset replaces a built-in one)."""
    from urvc_effects_pedalboard.chains import read_preset_toml
    from urvc_effects_pedalboard.presets import BUILTIN_STEPS, presets_folder

    found = {
        name: EffectPreset(name, description, tuple((n, dict(s)) for n, s in steps))
        for name, (description, steps) in BUILTIN_STEPS.items()
    }
    folder = presets_folder()
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                description, steps = read_preset_toml(path.read_text(encoding="utf-8"), str(path))
            except (UrvcError, OSError, UnicodeDecodeError):
                continue
            found[path.stem] = EffectPreset(path.stem, description, tuple(steps))
    return [found[name] for name in sorted(found)]


def register_saved_preset(preset: EffectPreset) -> None:
    """Make a preset saved just now usable in this process, as the next start would."""
    from urvc_core.plugins import plugin_host

    host = plugin_host()
    if PLUGIN_NAME in host.records and host.records[PLUGIN_NAME].error is None:
        host.presets.add(preset, PLUGIN_NAME)
