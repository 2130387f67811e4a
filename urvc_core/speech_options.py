"""The options of speech (``urvc speak``, ``urvc tts say``): names, defaults, ranges and
meanings, in one table, as :mod:`urvc_core.cover_options` is for covers.

:data:`SPEECH_SETTINGS` holds what is speech's own (the engine, its voice and speed, the
text file) and takes what speech shares with a cover (the output, effects, refresh,
device) from :data:`~urvc_core.cover_options.COVER_SETTINGS`, so those are spelled and
checked alike. Conversion settings ride along in :attr:`SpeechOptions.conversion`.
This module imports nothing heavy, so ``urvc speak --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from urvc_core.backends import Setting
from urvc_core.cover_options import COVER_SETTINGS, CoverSetting, plain_value
from urvc_core.errors import InvalidSettingError

__all__ = ["DEFAULT_TTS_ENGINE", "SPEECH_SETTINGS", "SpeechOptions", "parse_tts_settings"]

DEFAULT_TTS_ENGINE = "edge"
_SHARED_WITH_COVERS = (
    "output_format",
    "effects",
    "effects_preset",
    "refresh",
    "device",
)

SPEECH_SETTINGS: tuple[Setting, ...] = (
    CoverSetting(
        "text_file",
        str,
        None,
        "Speak the text of this file: .txt, .md, .srt, .vtt, .docx or .pdf.",
        metavar="FILE",
    ),
    CoverSetting(
        "tts",
        str,
        DEFAULT_TTS_ENGINE,
        "The TTS engine (`urvc backends tts` lists those installed).",
        metavar="ENGINE",
    ),
    CoverSetting(
        "tts_voice",
        str,
        None,
        "The engine's voice (`urvc tts voices` lists them; default: the engine's own).",
        metavar="VOICE",
    ),
    CoverSetting(
        "tts_speed",
        float,
        1.0,
        "How fast the engine speaks, times the voice's own pace.",
        minimum=0.25,
        maximum=4.0,
    ),
    CoverSetting(
        "tts_settings",
        str,
        None,
        "A setting of the engine, e.g. pitch=10 for edge (`urvc backends tts ENGINE` "
        "lists them). Repeatable.",
        flags=("--tts-setting",),
        multiple=True,
        metavar="NAME=VALUE",
    ),
    CoverSetting(
        "paragraph_pause",
        float,
        0.5,
        "Silence between paragraphs (blank lines, subtitle cues).",
        unit="s",
        minimum=0.0,
        maximum=10.0,
    ),
    CoverSetting(
        "output",
        str,
        None,
        "The file to write (default: a file in the urvc outputs folder named after the text).",
        flags=("-o", "--output"),
    ),
    # Speech keeps its own rate where none is asked for (a cover takes config.toml's).
    CoverSetting(
        "output_sample_rate",
        int,
        None,
        "Sample rate of the file (default: the voice model's, or the engine's for say).",
        unit="Hz",
        minimum=8000,
        maximum=192000,
        flags=("--sample-rate",),
    ),
    *(setting for setting in COVER_SETTINGS if setting.name in _SHARED_WITH_COVERS),
)


@dataclass(frozen=True)
class SpeechOptions:
    """Checked options of speech; see :data:`SPEECH_SETTINGS` for their meanings."""

    text_file: str | None = None
    tts: str = DEFAULT_TTS_ENGINE
    tts_voice: str | None = None
    tts_speed: float = 1.0
    tts_settings: tuple[str, ...] = ()
    paragraph_pause: float = 0.5
    output: str | None = None
    output_format: str | None = None
    output_sample_rate: int | None = None
    effects: tuple[str, ...] = ()
    effects_preset: str | None = None
    refresh: bool = False
    device: str | None = None
    conversion: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, given: Mapping[str, Any]) -> SpeechOptions:
        """Options with ``given`` on the table's defaults; conversion settings
        (``pitch=12``) go to :attr:`conversion`, ``None`` means "not given".

        Raises:
            InvalidSettingError: an unknown name (listing the known ones) or a bad value.
        """
        from urvc_core.rvc.settings import CONVERSION_SETTINGS

        speech = {setting.name: setting for setting in SPEECH_SETTINGS}
        conversion_names = {setting.name for setting in CONVERSION_SETTINGS}
        values = {item.name: getattr(cls(), item.name) for item in fields(cls)}
        conversion: dict[str, Any] = {}
        for name, value in given.items():
            if value is None:
                continue
            if name in speech:
                values[name] = speech[name].check(plain_value(value), "speech")
            elif name in conversion_names:
                conversion[name] = value
            else:
                raise InvalidSettingError(
                    f"There is no speech setting '{name}'; settings: "
                    f"{', '.join([*speech, *sorted(conversion_names)])}."
                )
        values["conversion"] = conversion
        return cls(**values)

    def engine_settings(self) -> dict[str, str]:
        """:attr:`tts_settings` as a mapping (the engine checks the values)."""
        return parse_tts_settings(self.tts_settings)


def parse_tts_settings(specs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``("pitch=10", "volume=-5")`` -> ``{"pitch": "10", "volume": "-5"}``."""
    settings: dict[str, str] = {}
    for spec in specs:
        name, equals, value = spec.partition("=")
        if not equals or not name.strip():
            raise InvalidSettingError(f"--tts-setting {spec!r} is not NAME=VALUE (e.g. pitch=10).")
        settings[name.strip().replace("-", "_")] = value.strip()
    return settings
