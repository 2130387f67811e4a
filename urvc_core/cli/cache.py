"""``urvc cache list|show|clear``: cached results of cover steps (:mod:`urvc_core.cache`)."""

from __future__ import annotations

import json

import click

from urvc_core.console import echo_json, echo_table, json_option


@click.group()
def cache() -> None:
    """Cached results of cover steps (separations, conversions, mixes, downloads)."""


@cache.command(name="list")
@json_option
def cache_list(as_json: bool) -> None:
    """List cached results, newest first."""
    from urvc_core.cache import StepCache

    entries = StepCache().entries()
    if as_json:
        echo_json([entry.as_dict() for entry in entries])
        return
    if not entries:
        click.echo("The cache is empty.")
        return
    echo_table(
        ["key", "step", "backend", "created", "size", "outputs"],
        [
            [
                e.key[:12],
                e.step,
                e.backend,
                e.created,
                _size(e.size_bytes()),
                ", ".join(e.outputs),
            ]
            for e in entries
        ],
    )
    total = sum(entry.size_bytes() for entry in entries)
    click.echo(f"{len(entries)} result(s), {_size(total)}")


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@cache.command(name="show")
@click.argument("key")
@json_option
def cache_show(key: str, as_json: bool) -> None:
    """Show one cached result's record: step, backend, parameters, inputs, files."""
    from urvc_core.cache import StepCache

    details = StepCache().find(key).as_dict()
    if as_json:
        echo_json(details)
        return
    for name, value in details.items():
        if isinstance(value, dict):
            click.echo(f"{name}:")
            for sub_name, sub_value in value.items():
                click.echo(f"  {sub_name}: {json.dumps(sub_value, default=str)}")
        else:
            click.echo(f"{name}: {value}")


@cache.command(name="clear")
@click.option("--all", "clear_all", is_flag=True, help="Remove every cached result.")
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="Remove results not used for DAYS days.",
)
@json_option
def cache_clear(clear_all: bool, older_than: float | None, as_json: bool) -> None:
    """Remove cached results: all of them, or those not used for some days."""
    from urvc_core.cache import StepCache

    if clear_all == (older_than is not None):
        raise click.UsageError("Give either --all or --older-than DAYS.")
    report = StepCache().clear(older_than_days=older_than)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(
        f"Removed {report.removed} result(s), {_size(report.freed_bytes)}; kept {report.kept}."
    )
