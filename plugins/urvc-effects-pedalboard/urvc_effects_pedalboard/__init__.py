"""urvc-effects-pedalboard: mix effects, effect chains and presets, and whole-track pitch
shifting, on Spotify's pedalboard.

The library API, which the ``urvc effects`` and ``urvc pitch-shift`` commands call::

    from urvc_effects_pedalboard import apply_chain_to_file, load_chain, pitch_shift_files

    chain = load_chain("clean")                       # or effects=["reverb:room_size=0.3"]
    apply_chain_to_file("vocals.wav", chain, "vocals_clean.wav")
    pitch_shift_files(["instrumental.wav"], 2, "out/", workers=2)

Importing this package costs no more than urvc itself: pedalboard is imported only
when an effect runs.
"""

from __future__ import annotations

from typing import Any

from urvc_core.hookspecs import Register, hookimpl
from urvc_effects_pedalboard.chains import (
    ChainStep,
    EffectChain,
    apply_chain_to_file,
    list_effects,
    load_chain,
    parse_spec,
)
from urvc_effects_pedalboard.effects import EFFECT_CLASSES, PedalboardEffect
from urvc_effects_pedalboard.pitch import pitch_shift_audio, pitch_shift_files
from urvc_effects_pedalboard.presets import (
    BUILTIN_PRESETS,
    Preset,
    find_preset,
    list_presets,
    save_preset,
)

__all__ = [
    "BUILTIN_PRESETS",
    "EFFECT_CLASSES",
    "ChainStep",
    "EffectChain",
    "PedalboardEffect",
    "Preset",
    "apply_chain_to_file",
    "find_preset",
    "list_effects",
    "list_presets",
    "load_chain",
    "parse_spec",
    "pitch_shift_audio",
    "pitch_shift_files",
    "save_preset",
]


@hookimpl
def register_effects(register: Register) -> None:
    for effect_class in EFFECT_CLASSES:
        register(effect_class)


@hookimpl
def register_presets(register: Any) -> None:
    from urvc_effects_pedalboard.preset_registration import effect_presets

    for preset in effect_presets():
        register(preset)


@hookimpl
def register_commands(cli: Any) -> None:
    from urvc_effects_pedalboard.commands import add_commands

    add_commands(cli)
