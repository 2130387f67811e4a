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

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.atomic_files import write_text_atomically
from urvc_core.backends import DeviceSetting, Setting
from urvc_core.errors import ConfigError, UrvcError


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

    @property
    def envs(self) -> Path:
        """Worker environments of backends that can't share urvc's (one per plugin)."""
        return self.root / "envs"

    @property
    def training(self) -> Path:
        """Training workspaces, one per model being trained (``urvc train``)."""
        return self.root / "training"

    def folders(self) -> dict[str, Path]:
        return {
            "models": self.models,
            "assets": self.assets,
            "cache": self.cache,
            "outputs": self.outputs,
            "training": self.training,
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
    DeviceSetting(
        "device",
        str,
        "auto",
        "Where models run: auto picks a GPU when torch sees one (CUDA, else Apple's MPS), "
        "else the CPU; or cpu, cuda, cuda:N, mps. A command's --device overrides it.",
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


def setting_for(key: str) -> Setting | None:
    """The setting a config.toml key names (``device``, ``convert.index_rate``), or None."""
    return _settings_by_name().get(key)


#: Settings whose values name backends, checked against the registry on load and on
#: ``set``: a typo fails there, not half way through a cover. Key -> backend kind.
BACKEND_NAMING_SETTINGS: Mapping[str, str] = {
    f"{CONVERT_TABLE}.f0_method": "f0",
    f"{CONVERT_TABLE}.embedder": "embedder",
}


def _where(key: str, path: Path) -> str:
    """How an error names a key's place: the file, and the table the key is in."""
    table, dot, _ = key.rpartition(".")
    return f"{path} [{table}]" if dot else str(path)


def _read_document(path: Path) -> dict[str, Any]:
    """config.toml as parsed TOML (an absent file is an empty one), values not checked."""
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The config file {path} is not valid TOML ({exc}); fix it or delete it."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Can't read the config file {path}: {exc.strerror or exc}; check its permissions."
        ) from None


def _table(document: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    """The table ``[name]`` of the document (created empty when absent)."""
    table = document.setdefault(name, {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"In {path}, {name} must be a table ([{name}] with settings under it), not "
            f"{table!r}; fix it with `urvc config unset {name}`."
        )
    return table


def _check_backend_names(key: str, value: Any, path: Path) -> None:
    """Check that a setting naming backends names installed ones (``auto`` always does)."""
    kind = BACKEND_NAMING_SETTINGS.get(key)
    if kind is None or value == "auto":
        return
    from urvc_core.registry import backend_registry

    installed = backend_registry().names(kind)
    name = key.rpartition(".")[2]
    where = _where(key, path)
    if kind == "embedder":
        if value in installed or Path(value).expanduser().exists():
            return
        raise ConfigError(
            f"{where}: {name}={value!r} is neither an installed embedder nor an existing "
            f"file or folder{_did_you_mean(value, installed)}; use auto, one of "
            f"{', '.join(installed)}, or the path of an embedder model."
        )
    methods = [method.strip() for method in str(value).split(",")]
    unknown = [method for method in methods if method not in installed]
    if unknown:
        named = f"{name}={value!r}" + (
            f": {', '.join(repr(m) for m in unknown)}" if len(methods) > 1 else ""
        )
        raise ConfigError(
            f"{where}: {named} is not an installed f0 method"
            f"{_did_you_mean(unknown[0], installed)}; use auto, one of "
            f"{', '.join(installed)}, or a comma list of them."
        )


def _did_you_mean(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _checked_config(document: Mapping[str, Any], path: Path) -> Config:
    """Check every value of a parsed config.toml and make the Config it describes.

    Each error is one line naming ``path``, the key, what is allowed, and how to fix
    the file from the command line.
    """
    raw = dict(document)
    asset_paths_raw = raw.pop(ASSET_PATHS_TABLE, {})
    if not isinstance(asset_paths_raw, dict) or not all(
        isinstance(v, str) for v in asset_paths_raw.values()
    ):
        raise ConfigError(
            f"In {path}, [{ASSET_PATHS_TABLE}] must map asset names to file paths (strings); "
            f"`urvc config set {ASSET_PATHS_TABLE}.NAME PATH` writes one."
        )
    convert_raw = raw.pop(CONVERT_TABLE, {})
    if not isinstance(convert_raw, dict):
        raise ConfigError(
            f"In {path}, [{CONVERT_TABLE}] must be a table of settings; fix it with "
            f"`urvc config unset {CONVERT_TABLE}`."
        )
    for name, value in convert_raw.items():
        raw[f"{CONVERT_TABLE}.{name}"] = value
    known = _settings_by_name()
    values: dict[str, Any] = {}
    convert: dict[str, Any] = {}
    for key, setting in known.items():
        if key not in raw:
            if not key.startswith(f"{CONVERT_TABLE}."):
                values[key] = setting.default
            continue
        try:
            checked = setting.check(raw.pop(key), _where(key, path))
            _check_backend_names(key, checked, path)
        except UrvcError as exc:
            raise ConfigError(
                f"{exc} Fix it with `urvc config set {key} VALUE`, or `urvc config unset "
                f"{key}` for the default."
            ) from None
        if key.startswith(f"{CONVERT_TABLE}."):
            convert[setting.name] = checked
        else:
            values[key] = checked
    if raw:
        unknown = sorted(raw)
        raise ConfigError(
            f"The config file {path} has unknown setting(s) {', '.join(unknown)}; "
            f"known settings: {', '.join(known)}, {ASSET_PATHS_TABLE}.NAME. Remove it with "
            f"`urvc config unset {unknown[0]}`."
        )
    asset_paths = {name: Path(p).expanduser() for name, p in asset_paths_raw.items()}
    return Config(values=values, asset_paths=asset_paths, source=path, convert=convert)


def load_config(home: UrvcHome | None = None) -> Config:
    """Read config.toml (absent is fine) and check every value in it.

    Values are checked against their settings' types and ranges, and names of backends
    (``convert.f0_method``, ``convert.embedder``) against the installed ones. A bad file
    is a ConfigError naming the file, the key and what is allowed.
    """
    home = home or urvc_home()
    path = home.config_file
    return _checked_config(_read_document(path), path)


def _write_document(path: Path, document: Mapping[str, Any]) -> None:
    import tomli_w

    try:
        write_text_atomically(path, tomli_w.dumps(document))
    except OSError as exc:
        raise ConfigError(
            f"Can't write the config file {path}: {exc.strerror or exc}; check that you "
            f"can write to {path.parent}, or point URVC_HOME at a folder you can."
        ) from exc


def _asset_path_value(asset: str, value: str, path: Path) -> str:
    """Check ``[asset_paths]`` NAME = PATH for ``set``: a declared asset, an existing path."""
    from urvc_core.plugins import plugin_host

    declared = sorted(plugin_host().assets)
    if asset not in declared:
        raise ConfigError(
            f"{path} [{ASSET_PATHS_TABLE}]: no installed plugin declares an asset named "
            f"'{asset}'{_did_you_mean(asset, declared)}; `urvc assets list` shows the names."
        )
    given = Path(value).expanduser()
    if not given.exists():
        raise ConfigError(
            f"{path} [{ASSET_PATHS_TABLE}]: {asset} = {value!r} does not exist; give the "
            f"path of the {asset} file (or folder) you have."
        )
    # Absolute, so that the setting means the same from every working folder.
    return os.path.abspath(given)


def set_config_value(key: str, value: str, home: UrvcHome | None = None) -> Config:
    """Check ``value`` for ``key``, write it to config.toml atomically and return the new config.

    ``key`` is a top-level setting (``device``), a conversion default
    (``convert.index_rate``) or ``asset_paths.NAME`` (a file urvc then uses instead of
    downloading asset NAME). The user's other keys are kept. The whole resulting file is
    checked before it is written, so a file is never left broken, and one broken by a
    value that this sets right is repaired.
    """
    home = home or urvc_home()
    path = home.config_file
    document = _read_document(path)
    if key.startswith(f"{ASSET_PATHS_TABLE}."):
        asset = key.split(".", 1)[1]
        checked: Any = _asset_path_value(asset, value, path)
        _table(document, ASSET_PATHS_TABLE, path)[asset] = checked
    else:
        known = _settings_by_name()
        if key not in known:
            raise ConfigError(
                f"There is no setting '{key}'; known settings: {', '.join(known)}, "
                f"{ASSET_PATHS_TABLE}.NAME."
            )
        checked = known[key].check(value, _where(key, path))
        if key.startswith(f"{CONVERT_TABLE}."):
            _table(document, CONVERT_TABLE, path)[key.split(".", 1)[1]] = checked
        else:
            document[key] = checked
    config = _checked_config(document, path)
    _write_document(path, document)
    return config


def unset_config_value(key: str, home: UrvcHome | None = None) -> Config:
    """Remove ``key`` from config.toml atomically (the setting is back at its default).

    Any key the file holds can be removed, an unknown one too, so a file another urvc
    version (or a typo) broke is fixed from the command line. A known setting the file
    doesn't hold is already at its default; any other key is an error listing what the
    file sets. If the file is still broken afterwards, the error names what is left.
    """
    home = home or urvc_home()
    path = home.config_file
    document = _read_document(path)
    table_name, dot, name = key.rpartition(".")
    table = document.get(table_name) if dot else document
    if isinstance(table, dict) and name in table:
        del table[name]
        if dot and not table:
            del document[table_name]
        _write_document(path, document)
        try:
            return _checked_config(document, path)
        except ConfigError as exc:
            raise ConfigError(
                f"Removed {key} from {path}, but the file has another problem: {exc}"
            ) from None
    if key not in _settings_by_name():
        held: list[str] = []
        for top, value in document.items():
            held += [f"{top}.{sub}" for sub in value] if isinstance(value, dict) else [top]
        raise ConfigError(
            f"{path} has no setting '{key}' to unset; it sets: {', '.join(held) or 'nothing'}."
        )
    return _checked_config(document, path)


def config_as_toml(config: Config) -> str:
    """The configuration in force as config.toml text: every setting, its meaning and
    allowed values in a comment above it; a setting without a value is commented out.

    ``tomllib.loads`` of the text gives the settings in force (the ``[convert]`` table
    holds every conversion default, changed or not).
    """
    import tomli_w

    from urvc_core.rvc.settings import CONVERSION_SETTINGS

    def entry(key: str, setting: Setting, value: Any) -> list[str]:
        comment = setting.help
        if setting.choices is not None:
            comment += f" One of: {', '.join(str(c) for c in setting.choices)}."
        elif setting.type in (int, float):
            allowed = setting.describe_range()
            comment += f" {allowed[0].upper()}{allowed[1:]}."
        if value != setting.default and setting.default is not None:
            comment += f" Default: {toml_value(setting.default)}."
        line = f"{key} = {toml_value(value)}" if value is not None else f"# {key} is not set"
        return [f"# {comment}", line]

    lines = [f"# The configuration in force, from {config.source} and the defaults."]
    for setting in CONFIG_SETTINGS:
        lines += ["", *entry(setting.name, setting, config[setting.name])]
    lines += ["", f"[{CONVERT_TABLE}]"]
    for setting in CONVERSION_SETTINGS:
        value = config[f"{CONVERT_TABLE}.{setting.name}"]
        lines += ["", *entry(setting.name, setting, value)]
    lines += [
        "",
        f"[{ASSET_PATHS_TABLE}]",
        "# Files you already have, used instead of downloading: NAME = PATH "
        f"(`urvc config set {ASSET_PATHS_TABLE}.NAME PATH`; `urvc assets list` names them).",
    ]
    lines += [tomli_w.dumps({name: str(p)}).strip() for name, p in config.asset_paths.items()]
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """A value as config.toml writes it (``false``, ``"mp3"``, ``0.3``)."""
    import tomli_w

    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()
