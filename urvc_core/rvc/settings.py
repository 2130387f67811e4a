"""The settings of a voice conversion: names, defaults, ranges and meanings, in one place.

The CLI builds its ``urvc convert`` options from this table, ``convert_voice`` checks its
keyword arguments against it, and the ``[convert]`` table of config.toml overrides the
defaults. This module imports nothing heavy, so config loading and ``--help`` stay fast.

Defaults follow Ultimate RVC 0.6.0, the tool most users come from: index rate 0.3, RMS
mix rate 1.0 (keep the converted voice's own loudness envelope), protect 0.33. Applio
and the original RVC WebUI default to index rate 0.75 and RMS mix rate 0.25, which pull
the result harder toward the training voice's timbre and toward the input's loudness;
put ``index_rate = 0.75`` and ``rms_mix_rate = 0.25`` under ``[convert]`` in config.toml
to work as they do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from urvc_core.backends import Setting
from urvc_core.errors import InvalidSettingError

#: Combining several pitch extractors frame by frame.
F0_COMBINE_CHOICES = ("median", "mean", "min", "max")

CONVERSION_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "pitch",
        float,
        0.0,
        "Shift the voice by this many semitones (12 = an octave up).",
        unit="semitones",
        minimum=-48,
        maximum=48,
    ),
    Setting(
        "f0_method",
        str,
        "auto",
        "Pitch extractor, or a comma list to combine (rmvpe, fcpe, crepe, crepe-tiny, pm, "
        "harvest, dio); auto: rmvpe when its plugin is installed, else fcpe.",
    ),
    Setting(
        "f0_combine",
        str,
        "median",
        "How several pitch extractors are combined frame by frame.",
        choices=F0_COMBINE_CHOICES,
    ),
    Setting(
        "f0_file",
        str,
        None,
        "A pitch curve file (time_s,f0_hz CSV, as `urvc f0 extract` writes) that replaces "
        "extraction, or guides it when given with an f0 method.",
    ),
    Setting(
        "index_rate",
        float,
        0.3,
        "How much of the voice's index (its training timbre) to blend in: 0 none, 1 all.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "filter_radius",
        int,
        3,
        "Median-filter the pitch curve over this many frames (3 or more; below 3 off).",
        unit="frames",
        minimum=0,
        maximum=15,
    ),
    Setting(
        "rms_mix_rate",
        float,
        1.0,
        "Loudness envelope: 0 follows the input's, 1 keeps the converted voice's own.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "protect",
        float,
        0.33,
        "Protect breaths and consonants from the index: 0.5 off, lower protects more.",
        minimum=0,
        maximum=0.5,
    ),
    Setting(
        "hop_length",
        int,
        128,
        "Analysis hop of crepe pitch extraction, in 16 kHz samples (smaller: finer, slower).",
        unit="samples",
        minimum=1,
        maximum=512,
    ),
    Setting(
        "f0_min",
        float,
        50.0,
        "Lowest pitch to detect.",
        unit="Hz",
        minimum=1,
        maximum=16000,
    ),
    Setting(
        "f0_max",
        float,
        1100.0,
        "Highest pitch to detect.",
        unit="Hz",
        minimum=1,
        maximum=16000,
    ),
    Setting("speaker_id", int, 0, "Speaker of a multi-speaker voice model.", minimum=0),
    Setting(
        "embedder",
        str,
        "auto",
        "Content embedder (contentvec, hubert-base, spin, ..., or a path to a model); "
        "auto: the one the voice model was trained with.",
    ),
    Setting(
        "formant",
        float,
        0.0,
        "Shift the formants (the timbre's resonances) without moving the pitch.",
        unit="semitones",
        minimum=-12,
        maximum=12,
    ),
    Setting("autotune", bool, False, "Snap the pitch to the nearest notes."),
    Setting(
        "autotune_strength",
        float,
        1.0,
        "How hard autotune snaps: 0 not at all, 1 fully.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "auto_pitch",
        str,
        "off",
        "Shift the input toward the voice model's range: by semitones, or whole octaves.",
        choices=("off", "semitones", "octaves"),
    ),
    Setting(
        "auto_pitch_target",
        float,
        None,
        "The pitch auto pitch aims at; default: the model's median pitch if it records one, "
        "else 155 Hz.",
        unit="Hz",
        minimum=50,
        maximum=1100,
    ),
    Setting("split_audio", bool, False, "Convert each stretch between silences on its own."),
    Setting("clean", bool, False, "Reduce noise in the converted voice."),
    Setting(
        "clean_strength",
        float,
        0.7,
        "How much noise reduction: 0 none, 1 most.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "output_sr",
        int,
        None,
        "Sample rate of the result; default: the voice model's.",
        unit="Hz",
        minimum=8000,
        maximum=192000,
    ),
    Setting(
        "precision",
        str,
        "fp32",
        "Arithmetic: fp32, bf16 (faster on CPUs with bf16, SNR >= 30 dB against fp32), fp16 (GPU).",
        choices=("fp32", "bf16", "fp16"),
    ),
    Setting("seed", int, 0, "Seed of the synthesizer's noise, for repeatable results."),
)


@dataclass(frozen=True)
class ConversionSettings:
    """Checked settings of one conversion; see :data:`CONVERSION_SETTINGS` for meanings."""

    pitch: float = 0.0
    f0_method: str = "auto"
    f0_combine: str = "median"
    f0_file: str | None = None
    index_rate: float = 0.3
    filter_radius: int = 3
    rms_mix_rate: float = 1.0
    protect: float = 0.33
    hop_length: int = 128
    f0_min: float = 50.0
    f0_max: float = 1100.0
    speaker_id: int = 0
    embedder: str = "auto"
    formant: float = 0.0
    autotune: bool = False
    autotune_strength: float = 1.0
    auto_pitch: str = "off"
    auto_pitch_target: float | None = None
    split_audio: bool = False
    clean: bool = False
    clean_strength: float = 0.7
    output_sr: int | None = None
    precision: str = "fp32"
    seed: int = 0

    @classmethod
    def resolve(
        cls, overrides: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> ConversionSettings:
        """Settings from the table's defaults, then ``defaults`` (config), then ``overrides``.

        ``None`` in ``overrides`` means "not given". Unknown names and bad values raise
        InvalidSettingError naming the valid range.
        """
        known = {setting.name: setting for setting in CONVERSION_SETTINGS}
        merged: dict[str, Any] = {name: setting.default for name, setting in known.items()}
        for source in (defaults or {}, overrides):
            for name, value in source.items():
                if name not in known:
                    raise InvalidSettingError(
                        f"There is no conversion setting '{name}'; settings: {', '.join(known)}."
                    )
                if value is not None:
                    merged[name] = known[name].check(value, "voice conversion")
        settings = cls(**merged)
        if settings.f0_min >= settings.f0_max:
            raise InvalidSettingError(
                f"voice conversion: f0_min ({settings.f0_min:g} Hz) must be below f0_max "
                f"({settings.f0_max:g} Hz)."
            )
        return settings

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}
