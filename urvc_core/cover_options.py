"""The options of a song cover: names, defaults, ranges and meanings, in one table.

:data:`COVER_SETTINGS` is to a cover what
:data:`~urvc_core.rvc.settings.CONVERSION_SETTINGS` is to a conversion: the CLI builds
``urvc cover``'s options from it, :meth:`CoverOptions.from_settings` checks a library
caller's keyword arguments against it, and the pipeline reads the resulting
:class:`CoverOptions`. The conversion settings of the lead vocals ride along in
:attr:`CoverOptions.conversion` (given ones only: config.toml's ``[convert]`` table fills
the rest when the cover resolves its conversion). This module imports nothing heavy, so
``urvc cover --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from urvc_core.backends import Setting
from urvc_core.devices import DEVICE_SETTING
from urvc_core.errors import InvalidSettingError

__all__ = [
    "COVER_SETTINGS",
    "DEFAULT_NAME_TEMPLATE",
    "FOLLOW_MODES",
    "CoverOptions",
    "CoverSetting",
]

DEFAULT_NAME_TEMPLATE = "{song} ({voice} Ver)"
#: How the instrumental and backup vocals follow the voice's pitch shift.
FOLLOW_MODES: tuple[str, ...] = ("key", "full", "none")
OUTPUT_FORMATS: tuple[str, ...] = ("mp3", "wav", "flac", "ogg")


@dataclass(frozen=True)
class CoverSetting(Setting):
    """A cover setting: a :class:`~urvc_core.backends.Setting` with how the CLI spells it.

    ``flags`` are the option's names (default ``--<name>``); ``multiple`` settings take
    several values (a repeatable option; a tuple of strings); ``metavar`` shows the
    form of a value in ``--help``.
    """

    flags: tuple[str, ...] = ()
    multiple: bool = False
    metavar: str | None = None

    def check(self, value: Any, owner: str) -> Any:
        if not self.multiple:
            return super().check(value, owner)
        if value is None:
            return ()
        values = [value] if isinstance(value, str) else list(value)
        if self.choices is not None:
            for item in values:
                super().check(item, owner)
        return tuple(str(item) for item in values)

    @property
    def option_flags(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.name.replace("_", "-"),)


COVER_SETTINGS: tuple[Setting, ...] = (
    # -- where the cover goes --------------------------------------------------------
    CoverSetting(
        "output",
        str,
        None,
        "Output folder (default: the urvc outputs folder), or a file for one song.",
        flags=("-o", "--output"),
    ),
    CoverSetting(
        "output_format",
        str,
        None,
        "Format of the cover (default: output_format in config.toml, mp3).",
        choices=OUTPUT_FORMATS,
        flags=("--format",),
    ),
    CoverSetting(
        "output_sample_rate",
        int,
        None,
        "Sample rate of the cover (default: output_sample_rate in config.toml, 44100).",
        unit="Hz",
        minimum=8000,
        maximum=192000,
        flags=("--sample-rate",),
    ),
    CoverSetting(
        "name_template",
        str,
        DEFAULT_NAME_TEMPLATE,
        "The cover's file name; fields {song}, {voice}, {pitch}, {preset}, {ext}.",
    ),
    # -- separation -----------------------------------------------------------------
    CoverSetting(
        "separation",
        str,
        "auto",
        "Separation preset: auto picks the best one installed (lead-clean with "
        "urvc-separator-mdx, else center). `urvc separate --list-presets` lists them.",
        metavar="PRESET",
    ),
    CoverSetting(
        "separator_steps",
        str,
        None,
        "Replace one step's separator or settings, e.g. "
        "karaoke=mdx:model=UVR_MDXNET_KARA_2.onnx; give one step several times for an "
        "ensemble of those separators. Repeatable.",
        flags=("--separator-step",),
        multiple=True,
        metavar="STEP=SEPARATOR[:SETTING=VALUE,...]",
    ),
    CoverSetting(
        "ensemble",
        str,
        None,
        "How an ensemble step combines its separators' stems: mean, median, min, max "
        "(by sample), min_mag, max_mag (by spectrum); default median. Repeatable.",
        multiple=True,
        metavar="STEP=METHOD",
    ),
    CoverSetting(
        "skip_steps",
        str,
        None,
        "Leave a separation step out. Repeatable.",
        choices=("vocals", "karaoke", "dereverb"),
        flags=("--skip",),
        multiple=True,
    ),
    # -- conversion of the backup vocals ---------------------------------------------
    CoverSetting(
        "convert_backup", bool, False, "Convert the backup vocals too (needs the karaoke step)."
    ),
    CoverSetting(
        "backup_model", str, None, "Voice model for the backup vocals (default: the voice)."
    ),
    # -- effects --------------------------------------------------------------------
    CoverSetting(
        "effects",
        str,
        None,
        "An effect on the converted vocals, e.g. reverb:room_size=0.3. Repeatable, in order.",
        flags=("-e", "--effect"),
        multiple=True,
        metavar="NAME[:SETTING=VALUE,...]",
    ),
    CoverSetting(
        "effects_preset",
        str,
        None,
        "An effects preset for the converted vocals (e.g. clean; `urvc effects presets`).",
        metavar="PRESET",
    ),
    # -- pitch of the backing tracks ------------------------------------------------
    CoverSetting(
        "follow_pitch",
        str,
        "key",
        "How the instrumental and backup vocals follow the voice's --pitch: its key "
        "change without whole octaves, all of it, or not at all.",
        choices=FOLLOW_MODES,
    ),
    CoverSetting(
        "instrumental_pitch",
        float,
        None,
        "Shift the instrumental and backup vocals by this many semitones instead.",
        unit="semitones",
        minimum=-48,
        maximum=48,
    ),
    # -- mix ------------------------------------------------------------------------
    CoverSetting(
        "vocals_gain_db",
        float,
        0.0,
        "Gain of the converted vocals.",
        unit="dB",
        minimum=-60,
        maximum=24,
        flags=("--vocals-gain",),
    ),
    CoverSetting(
        "instrumental_gain_db",
        float,
        0.0,
        "Gain of the instrumental.",
        unit="dB",
        minimum=-60,
        maximum=24,
        flags=("--instrumental-gain",),
    ),
    CoverSetting(
        "backup_gain_db",
        float,
        0.0,
        "Gain of the backup vocals.",
        unit="dB",
        minimum=-60,
        maximum=24,
        flags=("--backup-gain",),
    ),
    CoverSetting(
        "match_loudness",
        bool,
        True,
        "Bring the cover to the original song's integrated loudness (never clipping).",
    ),
    # -- the run ----------------------------------------------------------------------
    CoverSetting(
        "keep_intermediates",
        bool,
        True,
        "Keep each step's result in the cache (for quick re-runs), or remove them after.",
        flags=("--keep-intermediates/--drop-intermediates",),
    ),
    CoverSetting(
        "refresh",
        bool,
        False,
        "Recompute every step, replacing cached results.",
        flags=("--refresh",),
    ),
    CoverSetting(
        "cookies",
        str,
        None,
        "Browser cookies (cookies.txt) for sites that ask to sign in (yt-dlp).",
    ),
    # Where the models run; not part of any step's cache key: a step gives the same
    # music on any device.
    DEVICE_SETTING,
)


@dataclass(frozen=True)
class CoverOptions:
    """Checked options of a cover; see :data:`COVER_SETTINGS` for their meanings.

    ``conversion`` holds the conversion settings that were given (``pitch``,
    ``f0_method``...); the rest come from config.toml and the conversion table.
    """

    output: str | None = None
    output_format: str | None = None
    output_sample_rate: int | None = None
    name_template: str = DEFAULT_NAME_TEMPLATE
    separation: str = "auto"
    separator_steps: tuple[str, ...] = ()
    ensemble: tuple[str, ...] = ()
    skip_steps: tuple[str, ...] = ()
    convert_backup: bool = False
    backup_model: str | None = None
    effects: tuple[str, ...] = ()
    effects_preset: str | None = None
    follow_pitch: str = "key"
    instrumental_pitch: float | None = None
    vocals_gain_db: float = 0.0
    instrumental_gain_db: float = 0.0
    backup_gain_db: float = 0.0
    match_loudness: bool = True
    keep_intermediates: bool = True
    refresh: bool = False
    cookies: str | None = None
    device: str | None = None
    conversion: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, given: Mapping[str, Any], base: CoverOptions | None = None
    ) -> CoverOptions:
        """Options from ``base`` (default: the table's defaults) with ``given`` on top.

        ``given`` may hold cover settings and conversion settings alike (``pitch=12``
        goes to :attr:`conversion`); ``None`` means "not given".

        Raises:
            InvalidSettingError: an unknown name (listing the known ones) or a bad value.
        """
        from urvc_core.rvc.settings import CONVERSION_SETTINGS

        cover = {setting.name: setting for setting in COVER_SETTINGS}
        conversion_names = {setting.name for setting in CONVERSION_SETTINGS}
        values = (base or cls()).as_dict()
        conversion = dict(values.pop("conversion"))
        for name, value in given.items():
            if name == "conversion":
                conversion.update({k: v for k, v in dict(value or {}).items() if v is not None})
            elif name in cover:
                if value is not None:
                    values[name] = cover[name].check(plain_value(value), "cover")
            elif name in conversion_names:
                if value is not None:
                    conversion[name] = value
            else:
                raise InvalidSettingError(
                    f"There is no cover setting '{name}'; settings: "
                    f"{', '.join([*cover, *sorted(conversion_names)])}."
                )
        return cls(**values, conversion=conversion)

    def replace(self, **given: Any) -> CoverOptions:
        """These options with some changed (checked like :meth:`from_settings`)."""
        return CoverOptions.from_settings(given, self)

    def as_dict(self) -> dict[str, Any]:
        described = {item.name: getattr(self, item.name) for item in fields(self)}
        described["conversion"] = dict(self.conversion)
        return described


def plain_value(value: Any) -> Any:
    """Paths as strings, so an option given as a Path is checked like one given as text."""
    from pathlib import PurePath

    return str(value) if isinstance(value, PurePath) else value
