"""What the Settings tab edits: config.toml's defaults, and the UI's own ``webui.toml``.

The defaults are config.toml's, read and written with
:func:`urvc_core.home.load_config` and :func:`urvc_core.home.set_config_value` (the
same checks as ``urvc config set``), so a value saved in the page is what the command
line uses too, and it survives a refresh and a restart. config.toml accepts only urvc's
own settings, so the UI's theme lives beside it in ``<urvc home>/webui.toml``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.errors import UrvcError

__all__ = [
    "CONFIG_FIELDS",
    "THEMES",
    "ConfigField",
    "load_ui_settings",
    "read_config_fields",
    "save_config_fields",
    "save_ui_settings",
    "theme_for",
    "ui_settings_file",
]

#: Gradio's built-in themes by the name the page shows.
THEMES: dict[str, str] = {
    "default": "Default",
    "soft": "Soft",
    "monochrome": "Monochrome",
    "glass": "Glass",
    "ocean": "Ocean",
    "citrus": "Citrus",
    "origin": "Origin",
}


@dataclass(frozen=True)
class ConfigField:
    """One config.toml key and how the page edits it."""

    key: str
    label: str
    #: textbox, number, slider or choice (a dropdown).
    widget: str = "textbox"
    minimum: float = 0.0
    maximum: float = 1.0
    choices: tuple[str, ...] = ()

    @property
    def elem_id(self) -> str:
        return "setting-" + self.key.replace(".", "-").replace("_", "-")

    def component(self, f0_methods: Callable[[], list[str]]) -> Any:
        import gradio as gr

        if self.widget == "slider":
            return gr.Slider(
                minimum=self.minimum, maximum=self.maximum, label=self.label, elem_id=self.elem_id
            )
        if self.widget == "number":
            return gr.Number(label=self.label, elem_id=self.elem_id)
        if self.widget == "choice" or self.key == "convert.f0_method":
            choices = list(self.choices) if self.choices else f0_methods()
            return gr.Dropdown(
                label=self.label, choices=choices, allow_custom_value=True, elem_id=self.elem_id
            )
        return gr.Textbox(label=self.label, elem_id=self.elem_id)


CONFIG_FIELDS: tuple[ConfigField, ...] = (
    ConfigField("device", "Device (auto, cpu, cuda, cuda:N, mps)"),
    ConfigField(
        "output_format", "Format of finished files", "choice", choices=("mp3", "wav", "flac", "ogg")
    ),
    ConfigField("convert.f0_method", "Pitch extractor"),
    ConfigField("convert.embedder", "Embedder (a name, a path, or auto)"),
    ConfigField("convert.pitch", "Voice pitch shift (semitones)", "number"),
    ConfigField("convert.index_rate", "Index rate", "slider", 0.0, 1.0),
    ConfigField("convert.protect", "Protect consonants and breaths", "slider", 0.0, 0.5),
    ConfigField("convert.rms_mix_rate", "Loudness envelope (RMS mix rate)", "slider", 0.0, 1.0),
)


def read_config_fields() -> list[Any]:
    """The value in force of each of :data:`CONFIG_FIELDS`, from config.toml."""
    from urvc_core.home import load_config

    config = load_config()
    return [config[field.key] for field in CONFIG_FIELDS]


def save_config_fields(values: Sequence[Any]) -> list[str]:
    """Write each value that differs from the one in force to config.toml; the keys
    written. Every value is checked first, so a bad one writes nothing."""
    from urvc_core.home import load_config, set_config_value, setting_for

    config = load_config()
    changes: list[tuple[str, str]] = []
    for field, value in zip(CONFIG_FIELDS, values, strict=True):
        if value is None or value == "":
            continue
        setting = setting_for(field.key)
        if setting is not None and setting.type is float:
            value = float(value)
        if value == config[field.key]:
            continue
        if setting is not None:
            setting.check(str(value), field.key)  # raises before anything is written
        changes.append((field.key, str(value)))
    for key, text in changes:
        set_config_value(key, text)
    return [key for key, _ in changes]


def ui_settings_file() -> Path:
    from urvc_core.home import urvc_home

    return urvc_home().root / "webui.toml"


def load_ui_settings() -> dict[str, Any]:
    """The UI's own settings (the theme); a missing or damaged file reads as none."""
    path = ui_settings_file()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def save_ui_settings(values: dict[str, Any]) -> None:
    import tomli_w

    from urvc_core.atomic_files import write_text_atomically

    theme = values.get("theme")
    if theme is not None and theme not in THEMES:
        raise UrvcError(f"Unknown theme {theme!r}; choose one of {', '.join(THEMES)}.")
    settings = {**load_ui_settings(), **values}
    path = ui_settings_file()
    try:
        write_text_atomically(path, tomli_w.dumps(settings))
    except OSError as exc:
        raise UrvcError(f"Can't write {path}: {exc.strerror or exc}.") from exc


def theme_for(name: str) -> Any:
    """The gradio theme a name in :data:`THEMES` stands for (the default if unknown)."""
    import gradio as gr

    return getattr(gr.themes, THEMES.get(name, "Default"))()
