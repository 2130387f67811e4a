"""Named presets that plugins register: effect chains and separation chains.

A plugin gives presets through the ``register_presets(register)`` hook, the same way it
gives backends: it calls ``register(preset)`` with an :class:`EffectPreset` (a named
chain of effects, such as the pedalboard plugin's ``clean``) or a
:class:`SeparationPreset` (the vocal-extraction steps of a cover, such as the UVR
plugin's ``lead-clean``). The kernel records which plugin gave each, refuses a name two
plugins claim (as it does for backends) and lists them in ``urvc effects presets`` and
``urvc separate --list-presets``.

A preset names backends, it holds none: its effects and separators are looked up in the
registry when it is used, so a preset may combine several plugins' backends. This module
imports nothing heavy; a plugin's hook builds its presets without loading a model.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from urvc_core.errors import PluginConflictError, PluginError, UrvcError

__all__ = [
    "ENSEMBLE_METHODS",
    "STEP_NAMES",
    "EffectPreset",
    "PresetRegistry",
    "SeparationPreset",
    "SeparationStep",
    "SeparatorChoice",
]

#: The separation steps of a cover, in the order they run.
STEP_NAMES: tuple[str, ...] = ("vocals", "karaoke", "dereverb")

#: How an ensemble combines the stems several separators gave for one step (UVR's
#: names in brackets): ``mean`` (Average), ``median``, ``min`` (Min Wave: the sample of
#: least magnitude), ``max`` (Max Wave), ``min_mag`` (Min Spec: per STFT bin, the bin of
#: least magnitude), ``max_mag`` (Max Spec).
ENSEMBLE_METHODS: tuple[str, ...] = ("mean", "median", "min", "max", "min_mag", "max_mag")


@dataclass(frozen=True)
class EffectPreset:
    """A named chain of effects: (effect name, settings) pairs, applied in order."""

    name: str
    description: str
    effects: tuple[tuple[str, Mapping[str, Any]], ...]

    def specs(self) -> list[str]:
        """The chain as ``--effect`` specs: ``reverb:room_size=0.3``."""
        return [
            name + (":" + ",".join(f"{k}={v}" for k, v in settings.items()) if settings else "")
            for name, settings in self.effects
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "effects": [{"name": n, "settings": dict(s)} for n, s in self.effects],
        }


@dataclass(frozen=True)
class SeparatorChoice:
    """One separator backend and its settings."""

    separator: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def spec(self) -> str:
        """``mdx:model=UVR-MDX-NET-Voc_FT.onnx``."""
        values = ",".join(f"{k}={v}" for k, v in self.settings.items())
        return self.separator + (f":{values}" if values else "")

    def as_dict(self) -> dict[str, Any]:
        return {"separator": self.separator, "settings": dict(self.settings)}


@dataclass(frozen=True)
class SeparationStep:
    """One step of a separation chain: which step, its separator and settings.

    With ``ensemble``, further separators run on the same input and every stem is
    combined across all of them by ``combine`` (one of :data:`ENSEMBLE_METHODS`): what
    UVR users call an ensemble.
    """

    step: str
    separator: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    ensemble: tuple[SeparatorChoice, ...] = ()
    combine: str = "median"

    @property
    def members(self) -> tuple[SeparatorChoice, ...]:
        """Every separator of the step: the first, then the ensemble's."""
        return (SeparatorChoice(self.separator, self.settings), *self.ensemble)

    @property
    def backend(self) -> str:
        """The step's backend as reports name it: ``mdx`` or ``mdx+mdxc@median``."""
        if not self.ensemble:
            return self.separator
        return "+".join(m.separator for m in self.members) + f"@{self.combine}"

    def spec(self) -> str:
        """The step as ``--separator-step`` takes it (an ensemble gives one per member)."""
        return " ".join(f"{self.step}={member.spec()}" for member in self.members)

    def as_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "step": self.step,
            "separator": self.separator,
            "settings": dict(self.settings),
        }
        if self.ensemble:
            described["ensemble"] = [m.as_dict() for m in self.ensemble]
            described["combine"] = self.combine
        return described


@dataclass(frozen=True)
class SeparationPreset:
    """A named separation chain.

    ``rank`` orders the presets ``auto`` may pick: it takes the highest-ranked preset
    whose separators are installed and whose ``assets`` (weights) are on disk or may be
    downloaded.
    """

    name: str
    description: str
    steps: tuple[SeparationStep, ...]
    rank: int = 0
    assets: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "steps": [step.as_dict() for step in self.steps],
        }


class PresetRegistry:
    """The presets plugins registered, by kind and name, with the plugin of each."""

    def __init__(self) -> None:
        self._effects: dict[str, tuple[EffectPreset, str]] = {}
        self._separations: dict[str, tuple[SeparationPreset, str]] = {}

    def register_callback(self, plugin: str) -> Any:
        def register(preset: Any) -> None:
            self.add(preset, plugin)

        return register

    def add(self, preset: Any, plugin: str) -> None:
        table: dict[str, Any]
        if isinstance(preset, EffectPreset):
            table, kind = self._effects, "effect preset"
        elif isinstance(preset, SeparationPreset):
            table, kind = self._separations, "separation preset"
            _check_steps(preset, plugin)
        else:
            raise PluginError(
                f"Plugin {plugin} registered {preset!r} as a preset; register an "
                f"urvc_core.presets.EffectPreset or SeparationPreset."
            )
        if not preset.name:
            raise PluginError(f"Plugin {plugin} registered a {kind} without a name.")
        existing = table.get(preset.name)
        if existing is not None and existing[1] != plugin:
            raise PluginConflictError(
                f"Two plugins register the {kind} '{preset.name}': {existing[1]} and "
                f"{plugin}. Uninstall one of them, or choose which to load with "
                f"URVC_LOAD_PLUGINS."
            )
        table[preset.name] = (preset, plugin)

    def remove_plugin(self, plugin: str) -> None:
        for table in (self._effects, self._separations):
            for name in [n for n, (_, p) in table.items() if p == plugin]:
                del table[name]

    def effects(self) -> list[tuple[EffectPreset, str]]:
        """Every effect preset and its plugin, by name."""
        return [self._effects[name] for name in sorted(self._effects)]

    def separations(self) -> list[tuple[SeparationPreset, str]]:
        """Every separation preset and its plugin, by name."""
        return [self._separations[name] for name in sorted(self._separations)]

    def effect(self, name: str) -> EffectPreset:
        if name not in self._effects:
            raise UrvcError(_unknown("effect preset", name, list(self._effects)))
        return self._effects[name][0]

    def separation(self, name: str, extra_names: Sequence[str] = ()) -> SeparationPreset:
        if name not in self._separations:
            names = [*extra_names, *self._separations]
            raise UrvcError(_unknown("separation preset", name, names))
        return self._separations[name][0]


def _unknown(kind: str, name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listed = ", ".join(names) if names else "none installed"
    return (
        f"There is no {kind} named '{name}'.{hint} Presets: {listed}; plugins add more "
        f"(`urvc plugins list`)."
    )


def _check_steps(preset: SeparationPreset, plugin: str) -> None:
    for step in preset.steps:
        if step.step not in STEP_NAMES:
            raise PluginError(
                f"Plugin {plugin}'s separation preset '{preset.name}' has a step "
                f"'{step.step}'; steps are {', '.join(STEP_NAMES)}."
            )
        if step.combine not in ENSEMBLE_METHODS:
            raise PluginError(
                f"Plugin {plugin}'s separation preset '{preset.name}' combines its "
                f"{step.step} ensemble by '{step.combine}'; use one of "
                f"{', '.join(ENSEMBLE_METHODS)}."
            )
