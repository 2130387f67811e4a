"""Effect presets: chains saved by name, and the built-in ones tuned for converted vocals.

A user's presets are TOML files in ``<urvc home>/presets/effects/<name>.toml`` (the
format is in :mod:`.chains`); a user preset with a built-in's name takes its place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.atomic_files import write_text_atomically
from urvc_core.errors import UrvcError
from urvc_effects_pedalboard.chains import EffectChain

_PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# A converted vocal comes out of RVC dry, with low-frequency rumble and hum from the
# separator and the level of its source. Every preset cuts the rumble, makes up the level
# its compression and filtering take away (each leaves the ARCTIC sentence within 1 LU of
# where it was) and ends at a -1 dBFS ceiling, so a reverb or an echo piling up never
# clips the file.
_BUILTIN: dict[str, tuple[str, list[tuple[str, dict[str, Any]]]]] = {
    "clean": (
        "A polished dry vocal: rumble cut, gently compressed, a touch of small room",
        [
            ("highpass", {"cutoff_frequency_hz": 80.0}),
            (
                "compressor",
                {"threshold_db": -20.0, "ratio": 2.5, "attack_ms": 10.0, "release_ms": 120.0},
            ),
            ("gain", {"gain_db": 3.0}),
            (
                "reverb",
                {
                    "room_size": 0.3,
                    "damping": 0.6,
                    "wet_level": 0.12,
                    "dry_level": 0.5,
                    "width": 0.8,
                },
            ),
            ("limiter", {"ceiling_db": -1.0}),
        ],
    ),
    "radio": (
        "An AM-radio voice: squashed, 400 Hz-3.5 kHz band, slightly driven",
        [
            (
                "compressor",
                {"threshold_db": -26.0, "ratio": 6.0, "attack_ms": 3.0, "release_ms": 80.0},
            ),
            ("ladder-filter", {"mode": "hpf24", "cutoff_hz": 400.0}),
            ("ladder-filter", {"mode": "lpf24", "cutoff_hz": 3500.0}),
            ("distortion", {"drive_db": 8.0}),
            # Again: the distortion makes highs of its own.
            ("ladder-filter", {"mode": "lpf24", "cutoff_hz": 3500.0}),
            ("gain", {"gain_db": 10.5}),
            ("limiter", {"ceiling_db": -1.0}),
        ],
    ),
    "hall": (
        "A ballad vocal in a big hall: compressed, long bright reverb, a soft echo",
        [
            ("highpass", {"cutoff_frequency_hz": 100.0}),
            (
                "compressor",
                {"threshold_db": -18.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 150.0},
            ),
            ("gain", {"gain_db": 3.0}),
            (
                "reverb",
                {
                    "room_size": 0.85,
                    "damping": 0.35,
                    "wet_level": 0.28,
                    "dry_level": 0.5,
                    "width": 1.0,
                },
            ),
            ("delay", {"delay_seconds": 0.32, "feedback": 0.25, "mix": 0.15}),
            ("limiter", {"ceiling_db": -1.0}),
        ],
    ),
}

#: The names of the built-in presets.
BUILTIN_PRESETS: tuple[str, ...] = tuple(_BUILTIN)
#: Each built-in preset's description and (effect name, settings) steps, as written.
BUILTIN_STEPS = _BUILTIN


@dataclass(frozen=True)
class Preset:
    """A named chain: built in, or a user's file (``path``)."""

    name: str
    source: str  # "built-in" or "user"
    chain: EffectChain
    path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path) if self.path else None,
            **self.chain.as_dict(),
        }


def presets_folder() -> Path:
    """Where a user's presets live: ``<urvc home>/presets/effects``."""
    from urvc_core.home import urvc_home

    return urvc_home().root / "presets" / "effects"


def builtin_preset(name: str) -> Preset:
    description, steps = _BUILTIN[name]
    return Preset(name, "built-in", EffectChain.from_steps(steps, description))


def list_presets() -> list[Preset]:
    """The user's presets and the built-in ones they don't replace, by name.

    Raises:
        UrvcError: a user preset file is broken (the message names it).
    """
    found: dict[str, Preset] = {name: builtin_preset(name) for name in BUILTIN_PRESETS}
    folder = presets_folder()
    if folder.is_dir():
        for path in _user_preset_files(folder):
            found[path.stem] = Preset(path.stem, "user", EffectChain.from_file(path), path)
    return [found[name] for name in sorted(found)]


def find_preset(preset: str | Path) -> Preset:
    """A preset by name (the user's first, then built-in) or by the path of a ``.toml`` file.

    Raises:
        UrvcError: no preset of that name (the message lists them), or a broken file.
    """
    text = str(preset)
    if isinstance(preset, Path) or text.endswith(".toml") or os.sep in text or "/" in text:
        path = Path(preset)
        return Preset(path.stem, "file", EffectChain.from_file(path), path)
    check_preset_name(text)
    path = presets_folder() / f"{text}.toml"
    if path.is_file():
        return Preset(text, "user", EffectChain.from_file(path), path)
    if text in _BUILTIN:
        return builtin_preset(text)
    user = [p.stem for p in _user_preset_files(path.parent)] if path.parent.is_dir() else []
    names = ", ".join(sorted({*BUILTIN_PRESETS, *user}))
    raise UrvcError(
        f"There is no effect preset named '{text}'; presets: {names}. "
        f"`urvc effects save-preset` makes one."
    )


def save_preset(name: str, chain: EffectChain, *, overwrite: bool = False) -> Path:
    """Write ``chain`` as the user preset ``name``; returns the file written.

    The file appears whole or not at all. A preset of that name, the user's or a
    built-in one, is replaced only with ``overwrite``.

    Raises:
        UrvcError: a name that isn't a plain file name, an empty chain, or a preset
            of that name exists and ``overwrite`` is false.
    """
    check_preset_name(name)
    if not chain.steps:
        raise UrvcError(f"Preset '{name}' would have no effects; give at least one --effect.")
    folder = presets_folder()
    path = folder / f"{name}.toml"
    if not overwrite and (path.exists() or name in _BUILTIN):
        kind = "a built-in preset" if name in _BUILTIN and not path.exists() else str(path)
        raise UrvcError(
            f"Preset '{name}' already exists ({kind}); choose another name or pass --overwrite."
        )
    try:
        write_text_atomically(path, chain.to_toml())
    except OSError as exc:
        raise UrvcError(f"Can't write the preset {path}: {exc.strerror or exc}.") from exc
    from urvc_core.presets import EffectPreset
    from urvc_effects_pedalboard.preset_registration import register_saved_preset

    steps = tuple((step.name, dict(step.settings)) for step in chain.steps)
    register_saved_preset(EffectPreset(name, chain.description, steps))
    return path


def _user_preset_files(folder: Path) -> list[Path]:
    # Hidden files are not presets (no preset name starts with a dot): a save in
    # progress, or one a power cut interrupted, is a hidden temporary .toml file.
    return sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))


def check_preset_name(name: str) -> None:
    if not _PRESET_NAME.match(name) or name.endswith(".toml"):
        raise UrvcError(
            f"{name!r} is not a preset name; use letters, digits, '.', '_' and '-' "
            f"(or give the path of a .toml file)."
        )
