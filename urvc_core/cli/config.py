"""``urvc config show|set|unset|path``: the configuration file (:mod:`urvc_core.home`)."""

from __future__ import annotations

import click

from urvc_core.console import echo_json, json_option


@click.group()
def config() -> None:
    """The configuration file: defaults you change once."""


@config.command(name="show")
@json_option
def config_show(as_json: bool) -> None:
    """Print the configuration in force as TOML: every setting, with its meaning.

    Settings config.toml doesn't set show their defaults; one without a value is a
    comment.
    """
    from urvc_core.home import CONVERT_TABLE, config_as_toml, load_config
    from urvc_core.rvc.settings import CONVERSION_SETTINGS

    loaded = load_config()
    if as_json:
        echo_json(
            {
                "path": str(loaded.source),
                "settings": dict(loaded.values),
                "convert": {
                    s.name: loaded[f"{CONVERT_TABLE}.{s.name}"] for s in CONVERSION_SETTINGS
                },
                "asset_paths": {k: str(v) for k, v in loaded.asset_paths.items()},
            }
        )
        return
    click.echo(config_as_toml(loaded), nl=False)


@config.command(name="set")
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set KEY to VALUE in the configuration file.

    KEY is a setting (`device`), a conversion default (`convert.index_rate`), or
    `asset_paths.NAME` with the path of a file you already have for asset NAME
    (`urvc assets list` names them). The value is checked first: its type and range,
    and f0 method and embedder names against the installed backends.
    """
    from urvc_core.home import ASSET_PATHS_TABLE, set_config_value, toml_value

    loaded = set_config_value(key, value)
    if key.startswith(f"{ASSET_PATHS_TABLE}."):
        shown = toml_value(str(loaded.asset_paths[key.split(".", 1)[1]]))
    else:
        shown = toml_value(loaded[key])
    click.echo(f"{key} = {shown}  ({loaded.source})")


@config.command(name="unset")
@click.argument("key")
def config_unset(key: str) -> None:
    """Remove KEY from the configuration file: the setting is back at its default.

    Any key the file holds can be removed, an unknown one too.
    """
    from urvc_core.home import ASSET_PATHS_TABLE, setting_for, toml_value, unset_config_value

    loaded = unset_config_value(key)
    if setting_for(key) is not None:
        value = loaded[key]
        shown = toml_value(value) if value is not None else "not set"
        click.echo(f"{key} = {shown}, the default  ({loaded.source})")
    elif key.startswith(f"{ASSET_PATHS_TABLE}."):
        click.echo(f"Removed {key}: urvc will download that asset itself  ({loaded.source})")
    else:
        click.echo(f"Removed {key}  ({loaded.source})")


@config.command(name="path")
def config_path() -> None:
    """Print the configuration file's path."""
    from urvc_core.home import urvc_home

    click.echo(str(urvc_home().config_file))
