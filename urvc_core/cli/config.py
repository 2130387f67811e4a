"""``urvc config show|set|path``: the configuration file (:mod:`urvc_core.home`)."""

from __future__ import annotations

import click

from urvc_core.console import echo_json, json_option


@click.group()
def config() -> None:
    """The configuration file: defaults you change once."""


@config.command(name="show")
@json_option
def config_show(as_json: bool) -> None:
    """Show every setting with its value and meaning."""
    from urvc_core.home import CONFIG_SETTINGS, CONVERT_TABLE, load_config
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
    click.echo(f"# {loaded.source}")
    for setting in CONFIG_SETTINGS:
        click.echo(f"{setting.name} = {loaded[setting.name]!r}    # {setting.help}")
    click.echo(f"\n[{CONVERT_TABLE}]")
    for setting in CONVERSION_SETTINGS:
        value = loaded[f"{CONVERT_TABLE}.{setting.name}"]
        click.echo(f"{setting.name} = {value!r}    # {setting.help}")
    if loaded.asset_paths:
        click.echo("\n[asset_paths]")
    for name, path in loaded.asset_paths.items():
        click.echo(f"{name} = {str(path)!r}")


@config.command(name="set")
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set KEY to VALUE in the configuration file.

    KEY is a setting (`device`) or a conversion default (`convert.index_rate`).
    """
    from urvc_core.home import set_config_value

    loaded = set_config_value(key, value)
    click.echo(f"{key} = {loaded[key]!r}  ({loaded.source})")


@config.command(name="path")
def config_path() -> None:
    """Print the configuration file's path."""
    from urvc_core.home import urvc_home

    click.echo(str(urvc_home().config_file))
