"""The urvc home folder and its configuration file.

One folder holds everything urvc keeps between runs::

    <home>/config.toml   the defaults a user changes (``urvc config set KEY VALUE``)
    <home>/models/       voice models (.pth and .index)
    <home>/assets/       embedders, pitch models, separator weights
    <home>/cache/        intermediate results
    <home>/outputs/      finished files

``URVC_HOME`` moves it; otherwise it is the platform's user data folder
(``~/.local/share/urvc`` on Linux).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.atomic_files import write_text_atomically
from urvc_core.backends import Setting
from urvc_core.errors import ConfigError


@dataclass(frozen=True)
class UrvcHome:
    """The folders under one urvc home."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def assets(self) -> Path:
        return self.root / "assets"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    def folders(self) -> dict[str, Path]:
        return {
            "models": self.models,
            "assets": self.assets,
            "cache": self.cache,
            "outputs": self.outputs,
        }


def urvc_home() -> UrvcHome:
    """The home folder in force: ``URVC_HOME`` or the platform's user data folder."""
    configured = os.environ.get("URVC_HOME")
    if configured:
        return UrvcHome(Path(configured).expanduser().resolve())
    import platformdirs

    return UrvcHome(platformdirs.user_data_path("urvc", appauthor=False))


#: The settings a user can put in config.toml. Later features add theirs here, so that
#: ``urvc config`` lists, checks and documents every one of them in one place.
CONFIG_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "device",
        str,
        "auto",
        "Where models run: auto picks a GPU when torch sees one.",
        choices=("auto", "cpu", "cuda", "mps"),
    ),
    Setting(
        "offline",
        bool,
        False,
        "Never download; a missing file is an error that says where to put it.",
    ),
    Setting(
        "download_timeout",
        float,
        60.0,
        "Seconds without data before a download is given up.",
        unit="s",
        minimum=1,
        maximum=3600,
    ),
    Setting(
        "output_format",
        str,
        "mp3",
        "Format of finished files.",
        choices=("wav", "flac", "mp3", "ogg"),
    ),
    Setting(
        "output_sample_rate",
        int,
        44100,
        "Sample rate of finished files.",
        unit="Hz",
        minimum=8000,
        maximum=192000,
    ),
)

#: A table of asset name -> local file, for weights the user already has on disk.
ASSET_PATHS_TABLE = "asset_paths"
#: A table of voice-conversion defaults (urvc_core.rvc.settings.CONVERSION_SETTINGS).
CONVERT_TABLE = "convert"


@dataclass(frozen=True)
class Config:
    """The configuration in force: every setting with its value, and asset path overrides."""

    values: Mapping[str, Any]
    asset_paths: Mapping[str, Path]
    source: Path
    #: Voice-conversion defaults the user changed, by setting name.
    convert: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        """A top-level setting, or ``convert.<name>`` (the default when not changed)."""
        if key.startswith(f"{CONVERT_TABLE}."):
            name = key.split(".", 1)[1]
            return self.convert.get(name, _settings_by_name()[key].default)
        return self.values[key]


def _settings_by_name() -> dict[str, Setting]:
    """Every setting config.toml can hold: top-level ones, and ``convert.<name>``."""
    from urvc_core.rvc.settings import CONVERSION_SETTINGS

    settings = {setting.name: setting for setting in CONFIG_SETTINGS}
    settings.update({f"{CONVERT_TABLE}.{s.name}": s for s in CONVERSION_SETTINGS})
    return settings


def load_config(home: UrvcHome | None = None) -> Config:
    """Read config.toml (absent is fine) and check every value in it."""
    home = home or urvc_home()
    path = home.config_file
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The config file {path} is not valid TOML ({exc}); fix it or delete it."
            ) from None
    asset_paths_raw = raw.pop(ASSET_PATHS_TABLE, {})
    if not isinstance(asset_paths_raw, dict) or not all(
        isinstance(v, str) for v in asset_paths_raw.values()
    ):
        raise ConfigError(
            f"In {path}, [{ASSET_PATHS_TABLE}] must map asset names to file paths (strings)."
        )
    convert_raw = raw.pop(CONVERT_TABLE, {})
    if not isinstance(convert_raw, dict):
        raise ConfigError(f"In {path}, [{CONVERT_TABLE}] must be a table of settings.")
    for name, value in convert_raw.items():
        raw[f"{CONVERT_TABLE}.{name}"] = value
    known = _settings_by_name()
    values: dict[str, Any] = {}
    convert: dict[str, Any] = {}
    owner = f"config file {path}"
    for key, setting in known.items():
        if key.startswith(f"{CONVERT_TABLE}."):
            if key in raw:
                convert[setting.name] = setting.check(raw.pop(key), owner)
            continue
        values[key] = setting.check(raw.pop(key), owner) if key in raw else setting.default
    if raw:
        raise ConfigError(
            f"The config file {path} has unknown setting(s) {', '.join(sorted(raw))}; "
            f"known settings: {', '.join(known)}."
        )
    asset_paths = {name: Path(p).expanduser() for name, p in asset_paths_raw.items()}
    return Config(values=values, asset_paths=asset_paths, source=path, convert=convert)


def set_config_value(key: str, value: str, home: UrvcHome | None = None) -> Config:
    """Check ``value`` for ``key``, write it to config.toml atomically and return the new config.

    ``key`` is a top-level setting (``device``) or a conversion default (``convert.index_rate``).
    """
    import tomli_w

    home = home or urvc_home()
    known = _settings_by_name()
    if key not in known:
        raise ConfigError(f"There is no setting '{key}'; known settings: {', '.join(known)}.")
    checked = known[key].check(value, "urvc config set")
    path = home.config_file
    document: dict[str, Any] = {}
    if path.is_file():
        load_config(home)  # refuse to rewrite a file that is already broken
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    if key.startswith(f"{CONVERT_TABLE}."):
        document.setdefault(CONVERT_TABLE, {})[key.split(".", 1)[1]] = checked
    else:
        document[key] = checked
    try:
        write_text_atomically(path, tomli_w.dumps(document))
    except OSError as exc:
        raise ConfigError(
            f"Can't write the config file {path}: {exc.strerror or exc}; check that you "
            f"can write to {path.parent}, or point URVC_HOME at a folder you can."
        ) from exc
    return load_config(home)
