"""``urvc assets list|download``: the files plugins declare (:mod:`urvc_core.catalogue`)."""

from __future__ import annotations

import click

from urvc_core.console import echo_json, echo_table, json_option


@click.group()
def assets() -> None:
    """Downloadable files the installed plugins need (weights, catalogues)."""


@assets.command(name="list")
@json_option
def assets_list(as_json: bool) -> None:
    """List declared assets, where they go and whether they are present."""
    from urvc_core.catalogue import list_assets

    statuses = list_assets()
    if as_json:
        echo_json([status.as_dict() for status in statuses])
        return
    if not statuses:
        click.echo("No installed plugin declares an asset.")
        return
    echo_table(
        ["name", "plugin", "present", "path"],
        [[s.asset.name, s.plugin, "yes" if s.present else "no", s.path] for s in statuses],
    )


@assets.command(name="download")
@click.argument("names", nargs=-1, required=True)
def assets_download(names: tuple[str, ...]) -> None:
    """Download assets now instead of on first use."""
    from urvc_core.catalogue import fetch_asset

    for name in names:
        click.echo(f"{name}: {fetch_asset(name)}")
