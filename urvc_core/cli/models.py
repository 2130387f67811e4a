"""``urvc models ...``: the voice library (:mod:`urvc_core.voices`)."""

from __future__ import annotations

from pathlib import Path

import click

from urvc_core.console import echo_json, echo_table, json_option


@click.group()
def models() -> None:
    """The voice library: RVC voice models (.pth, with their .index)."""


@models.command(name="import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--name", help="Name in the library (default: from the file name).")
@click.option("--overwrite", is_flag=True, help="Replace a voice model of the same name.")
@json_option
def models_import(source: Path, name: str | None, overwrite: bool, as_json: bool) -> None:
    """Import a .pth, a .pth with its .index (a folder), a .zip or a folder of models."""
    from urvc_core.voices import import_voice_models

    entries = import_voice_models(source, name=name, overwrite=overwrite)
    if as_json:
        echo_json([entry.as_dict() for entry in entries])
        return
    for entry in entries:
        index = f", index {entry.index_path.name}" if entry.index_path else ", no index"
        click.echo(
            f"Imported {entry.name} ({entry.info.version}, {entry.info.sample_rate} Hz{index})"
        )


@models.command(name="download")
@click.argument("url")
@click.option("--name", help="Name in the library (default: from the file name).")
@click.option("--overwrite", is_flag=True, help="Replace a voice model of the same name.")
def models_download(url: str, name: str | None, overwrite: bool) -> None:
    """Download a voice model (.pth or .zip link) into the library."""
    from urvc_core.voices import download_voice_model

    entry = download_voice_model(url, name=name, overwrite=overwrite)
    click.echo(f"Imported {entry.name} into {entry.folder}")


@models.command(name="list")
@json_option
def models_list(as_json: bool) -> None:
    """List the voice models in the library."""
    from urvc_core.voices import list_voice_models

    entries = list_voice_models()
    if as_json:
        echo_json([entry.as_dict() for entry in entries])
        return
    if not entries:
        click.echo("The voice library is empty: `urvc models import FILE` adds a model.")
        return
    echo_table(
        ["name", "version", "rate", "pitch", "index"],
        [
            [
                e.name,
                e.info.version,
                e.info.sample_rate,
                "yes" if e.info.pitch_guidance else "no",
                "yes" if e.index_path else "no",
            ]
            for e in entries
        ],
    )


@models.command(name="info")
@click.argument("name")
@json_option
def models_info(name: str, as_json: bool) -> None:
    """Show a voice model: version, sample rate, embedder, training, index, files."""
    from urvc_core.voices import resolve_voice_model

    details = resolve_voice_model(name).as_dict()
    if as_json:
        echo_json(details)
        return
    for key, value in details.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for sub_key, sub_value in value.items():
                click.echo(f"  {sub_key}: {sub_value}")
        else:
            click.echo(f"{key}: {value}")


@models.command(name="delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Don't ask for confirmation.")
def models_delete(name: str, yes: bool) -> None:
    """Delete a voice model from the library."""
    from urvc_core.voices import delete_voice_model, get_voice_model

    entry = get_voice_model(name)
    if not yes:
        click.confirm(f"Delete {entry.name} ({entry.folder})?", abort=True)
    delete_voice_model(name)
    click.echo(f"Deleted {entry.name}")
