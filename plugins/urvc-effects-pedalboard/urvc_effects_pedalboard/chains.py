"""Effect chains: effects applied one after another, from the command line or a TOML file.

A chain is an ordered list of steps, each an effect name and its settings. It is written
on the command line as one spec per effect::

    --effect highpass:cutoff_frequency_hz=80 --effect reverb:room_size=0.3,wet_level=0.2

or in a TOML file, one ``[[effect]]`` table per step::

    description = "Dry vocal into a small room"

    [[effect]]
    name = "highpass"
    cutoff_frequency_hz = 80

    [[effect]]
    name = "reverb"
    room_size = 0.3

Every step is checked against the effect's declared settings when the chain is built,
so a typo fails at once with the valid names and ranges, not after minutes of work.
A chain runs its effects through the kernel's registry, so it can mix in any installed
plugin's effects (``loudness-normalize`` is built in).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urvc_core.audio import (
    check_output_is_not_an_input,
    load_audio,
    save_audio,
    write_format_for,
)
from urvc_core.backends import Audio, BackendInfo, Effect
from urvc_core.effects import parse_effect_spec
from urvc_core.errors import UrvcError
from urvc_core.registry import backend_registry, get_backend, list_backends

Progress = Callable[[float], None]


@dataclass(frozen=True)
class ChainStep:
    """One effect of a chain: its name and its settings, checked and typed.

    Only the settings that were given are kept; the others take the effect's defaults
    when it runs, so a saved preset stays short and follows improved defaults.
    """

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def create(self) -> Effect:
        """The effect, from the registry, with this step's settings."""
        effect = get_backend("effect", self.name, **self.settings)
        assert isinstance(effect, Effect)
        return effect

    def spec(self) -> str:
        """The step as an ``--effect`` spec: ``reverb:room_size=0.3``."""
        if not self.settings:
            return self.name
        values = ",".join(f"{k}={_spec_value(v)}" for k, v in self.settings.items())
        return f"{self.name}:{values}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "settings": dict(self.settings)}


@dataclass(frozen=True)
class EffectChain:
    """An ordered list of effects with their settings, applied one after the other."""

    steps: tuple[ChainStep, ...]
    description: str = ""

    @classmethod
    def from_steps(
        cls, steps: Iterable[tuple[str, Mapping[str, Any]]], description: str = ""
    ) -> EffectChain:
        """A chain from (effect name, settings) pairs; names and settings are checked.

        Raises:
            BackendNotFoundError: an effect nobody installed (the message lists them).
            InvalidSettingError: an unknown setting, a bad value or one out of range.
        """
        return cls(tuple(make_step(name, settings) for name, settings in steps), description)

    @classmethod
    def from_specs(cls, specs: Sequence[str]) -> EffectChain:
        """A chain from ``--effect`` specs such as ``reverb:room_size=0.3,wet_level=0.2``.

        Values are read as the setting's type (float, int, true/false, text).

        Raises:
            UrvcError: a malformed spec; otherwise as :meth:`from_steps`.
        """
        return cls.from_steps(parse_spec(spec) for spec in specs)

    @classmethod
    def from_toml(cls, text: str, source: str = "preset") -> EffectChain:
        """A chain from the text of a preset file (``[[effect]]`` tables).

        Raises:
            UrvcError: not TOML, no ``[[effect]]`` table, a table without a name, an
                unknown top-level key; otherwise as :meth:`from_steps`.
        """
        description, steps = read_preset_toml(text, source)
        return cls.from_steps(steps, description)

    @classmethod
    def from_file(cls, path: str | Path) -> EffectChain:
        """A chain from a preset file; see :meth:`from_toml`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UrvcError(f"{path} does not exist; check the preset's path.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UrvcError(f"Can't read the preset {path}: {exc}.") from exc
        return cls.from_toml(text, str(path))

    def __add__(self, other: EffectChain) -> EffectChain:
        return EffectChain(self.steps + other.steps, self.description or other.description)

    def to_toml(self) -> str:
        """The chain as a preset file that :meth:`from_toml` reads back."""
        import tomli_w

        # Written table by table: tomli_w would put the list on one line as inline tables.
        parts = [tomli_w.dumps({"description": self.description})] if self.description else []
        for step in self.steps:
            parts.append("[[effect]]\n" + tomli_w.dumps({"name": step.name, **step.settings}))
        return "\n".join(parts)

    def specs(self) -> list[str]:
        """The chain as ``--effect`` specs."""
        return [step.spec() for step in self.steps]

    def apply(self, audio: Audio, *, progress: Progress | None = None) -> Audio:
        """``audio`` through every effect in order; ``progress`` gets the fraction done.

        Each intermediate result is let go as soon as the next effect has run, so at most
        the input, one intermediate and the output exist at once.
        """
        effects = [step.create() for step in self.steps]
        result = audio
        for number, effect in enumerate(effects):
            if progress is None:
                result = effect.apply(result)
                continue
            report = functools.partial(_report_step, progress, number, len(effects))
            if _takes_progress(effect):
                result = effect.apply(result, progress=report)  # type: ignore[call-arg]
            else:
                result = effect.apply(result)
                report(1.0)
        return result

    def as_dict(self) -> dict[str, Any]:
        return {"description": self.description, "effects": [s.as_dict() for s in self.steps]}


def read_preset_toml(
    text: str, source: str = "preset"
) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """The description and (effect name, settings) pairs of a preset file's text, as
    written: nothing is looked up or checked against the registry yet.

    Raises:
        UrvcError: not TOML, no ``[[effect]]`` table, a table without a name, an
            unknown top-level key.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UrvcError(f"{source} is not valid TOML: {exc}; fix the file.") from exc
    unknown = sorted(set(document) - {"effect", "description"})
    if unknown:
        raise UrvcError(
            f"{source} has unknown key(s) {', '.join(unknown)}; a preset holds "
            f'`description = "..."` and [[effect]] tables.'
        )
    tables = document.get("effect")
    if not isinstance(tables, list) or not tables:
        raise UrvcError(
            f"{source} has no effects; add [[effect]] tables, each with a name, "
            f'e.g. [[effect]] name = "reverb" room_size = 0.3.'
        )
    steps = []
    for number, table in enumerate(tables, start=1):
        settings = dict(table)
        name = settings.pop("name", None)
        if not isinstance(name, str) or not name:
            raise UrvcError(
                f'{source}: effect {number} has no name; add name = "..." to its table.'
            )
        steps.append((name, settings))
    return str(document.get("description", "")), steps


def make_step(name: str, settings: Mapping[str, Any]) -> ChainStep:
    """A step with its settings checked and converted to their types."""
    info = backend_registry().info("effect", name)
    given = {str(key).replace("-", "_"): value for key, value in settings.items()}
    checked = info.backend_class.check_settings(given)
    return ChainStep(name, {key: checked[key] for key in given})


#: The kernel's parser of ``--effect`` specs, under the name this plugin always gave it.
parse_spec = parse_effect_spec


def list_effects() -> list[BackendInfo]:
    """Every installed effect, from any plugin, with its settings (ranges, units, help)."""
    return list_backends("effect")


def load_chain(preset: str | Path | None = None, effects: Sequence[str] = ()) -> EffectChain:
    """A chain from a preset (a name or a ``.toml`` path), ``--effect`` specs, or both.

    With both, the preset's effects come first and the specs are added after them.

    Raises:
        UrvcError: neither given, an unknown preset, or anything :class:`EffectChain`
            refuses.
    """
    from urvc_effects_pedalboard.presets import find_preset

    if preset is None and not effects:
        raise UrvcError(
            "No effects to apply: give a preset (--preset NAME; `urvc effects presets` "
            "lists them) or effects (--effect SPEC; `urvc effects list` lists them)."
        )
    chain = find_preset(preset).chain if preset is not None else EffectChain(())
    if effects:
        chain = chain + EffectChain.from_specs(effects)
    return chain


def apply_chain_to_file(
    input: str | Path,
    chain: EffectChain,
    output: str | Path,
    *,
    progress: Progress | None = None,
) -> Path:
    """Read ``input``, run it through ``chain`` and write ``output``; returns its path.

    The output's format comes from its suffix (wav, flac, ogg, mp3). It appears only
    once complete: an error, or an interrupted run, leaves no file behind. It may not be
    ``input`` itself.
    """
    output = Path(output)
    write_format_for(output)
    check_output_is_not_an_input(output, [input])
    if not chain.steps:
        raise UrvcError("The effect chain is empty; give at least one effect.")
    # Every effect is built (and so checked) before the file is even read.
    for step in chain.steps:
        step.create()
    audio = load_audio(input)
    processed = chain.apply(audio, progress=progress)
    del audio
    return save_audio(processed, output)


def _takes_progress(effect: Effect) -> bool:
    from urvc_effects_pedalboard.effects import PedalboardEffect, PitchShift

    return isinstance(effect, (PedalboardEffect, PitchShift))


def _report_step(progress: Progress, number: int, count: int, fraction: float) -> None:
    progress((number + fraction) / count)


def _spec_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
