"""Effect chains as the cover pipeline uses them: effect specs and presets, checked, applied.

A chain is the effects of a registered preset (:mod:`urvc_core.presets`; the pedalboard
plugin registers ``clean``, ``radio``, ``hall`` and the user's saved presets), then
effect specs such as ``reverb:room_size=0.3,wet_level=0.2``. Every effect is looked up
in the registry and its settings checked when the chain is planned, so a typo fails
before minutes of work, and every effect runs through the registry, so a chain may mix
any plugins' effects (``loudness-normalize`` is built in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.presets import EffectPreset

__all__ = [
    "EFFECT_SPEC_FORMAT",
    "EffectStep",
    "apply_effects",
    "find_effect_preset",
    "list_effect_presets",
    "parse_effect_spec",
    "plan_effects",
]


@dataclass(frozen=True)
class EffectStep:
    """One effect of a chain: a registered effect's name and its settings (all of them,
    checked, defaults filled in)."""

    name: str
    settings: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "settings": dict(self.settings)}


#: What one ``--effect`` looks like, for error messages.
EFFECT_SPEC_FORMAT = (
    "NAME or NAME:SETTING=VALUE,SETTING=VALUE (e.g. reverb:room_size=0.3,wet_level=0.2)"
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def parse_effect_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"reverb:room_size=0.3,wet_level=0.2"`` -> ``("reverb", {"room_size": "0.3", ...})``.

    Setting names may be written with dashes (``room-size``). Values stay text here; the
    effect's settings give them their types.
    """
    name, colon, rest = spec.strip().partition(":")
    name = name.strip()
    if not name or (colon and not rest.strip()):
        raise UrvcError(f"Malformed effect spec {spec!r}: write {EFFECT_SPEC_FORMAT}.")
    settings: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, equals, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or not _SETTING_NAME.match(key) or not value.strip():
            raise UrvcError(
                f"Malformed setting {pair!r} in effect spec {spec!r}: write {EFFECT_SPEC_FORMAT}."
            )
        if key in settings:
            raise UrvcError(f"Effect spec {spec!r} sets {key} twice; keep one.")
        settings[key] = value.strip()
    return name, settings


def list_effect_presets() -> list[tuple[EffectPreset, str]]:
    """The registered effect presets, each with the plugin that gave it."""
    from urvc_core.plugins import preset_registry

    return preset_registry().effects()


def find_effect_preset(name: str) -> EffectPreset:
    """A registered effect preset by name.

    Raises:
        UrvcError: no preset of that name (listing those there are, and the plugin to
            install where one of urvc's own provides presets).
    """
    from urvc_core.plugin_directory import install_hint
    from urvc_core.plugins import preset_registry

    try:
        return preset_registry().effect(name)
    except UrvcError as exc:
        hint = install_hint("effect preset", name)
        if hint and not preset_registry().effects():
            raise UrvcError(
                f"Effect presets ('{name}') come with a plugin: {hint}; or give effects one "
                f"by one with --effect NAME:SETTING=VALUE."
            ) from exc
        raise


def plan_effects(specs: Sequence[str] = (), preset: str | None = None) -> list[EffectStep]:
    """A checked effects chain: the preset's effects, then ``specs``. Nothing is loaded.

    Raises:
        UrvcError: a malformed spec, an effect nobody installed (naming the plugin that
            provides effects), an unknown setting or a value out of range.
    """
    from urvc_core.errors import BackendNotFoundError
    from urvc_core.plugin_directory import install_hint
    from urvc_core.registry import backend_registry

    wanted: list[tuple[str, Mapping[str, Any]]] = []
    if preset:
        wanted.extend(find_effect_preset(preset).effects)
    wanted.extend(parse_effect_spec(spec) for spec in specs)
    registry = backend_registry()
    steps: list[EffectStep] = []
    for name, settings in wanted:
        try:
            info = registry.info("effect", name)
        except BackendNotFoundError as exc:
            hint = install_hint("effect", name)
            if hint and not _effects_plugin_installed():
                raise UrvcError(
                    f"There is no effect named '{name}': effects come with a plugin; {hint}."
                ) from exc
            raise
        given = {str(k).replace("-", "_"): v for k, v in settings.items()}
        steps.append(EffectStep(name, info.backend_class.check_settings(given)))
    return steps


def _effects_plugin_installed() -> bool:
    """Whether any installed plugin (not the kernel's built-ins) provides effects."""
    from urvc_core.plugins import plugin_host

    host = plugin_host()
    return any(
        not host.records[info.plugin].builtin
        for info in host.registry.backends("effect")
        if info.plugin in host.records
    )


def apply_effects(audio: Audio, steps: Sequence[EffectStep]) -> Audio:
    """``audio`` through each effect in turn, every one created through the registry."""
    from urvc_core.registry import get_backend

    for step in steps:
        effect = get_backend("effect", step.name, **step.settings)
        audio = effect.apply(audio)  # type: ignore[attr-defined]
    return audio
