"""``urvc models ...``: the voice library (:mod:`urvc_core.voices`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from urvc_core.cli.options import conversion_options, device_option
from urvc_core.console import echo_json, echo_table, json_option

if TYPE_CHECKING:
    from urvc_core.voices import VoiceImportResult


@click.group()
def models() -> None:
    """The voice library: RVC voice models (.pth, with their .index)."""


@models.command(name="import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--name", help="Name in the library (one voice only; default: from the file name).")
@click.option("--overwrite", is_flag=True, help="Replace voice models of the same names.")
@json_option
def models_import(
    sources: tuple[Path, ...], name: str | None, overwrite: bool, as_json: bool
) -> None:
    """Import voice models: .pth files, .index files, .zip files or folders.

    A .pth and its .index given together make one voice (`urvc models import
    Singer.pth Singer.index`); several .pth files make one voice each, with the index
    found beside each. One that fails doesn't stop the others: a summary lists each,
    and the exit code is 1 if any failed.
    """
    from urvc_core.voices import import_voice_files

    _report(import_voice_files(sources, name=name, overwrite=overwrite), "imports", as_json)


@models.command(name="download")
@click.argument("urls", nargs=-1, metavar="URL_OR_NAME...")
@click.option(
    "--from-file",
    "list_file",
    type=click.Path(path_type=Path),
    help="A CSV file of models to download: a header row url,name, then one model a row.",
)
@click.option("--name", help="Name in the library (one URL only; default: from the file name).")
@click.option("--overwrite", is_flag=True, help="Replace voice models of the same names.")
@json_option
def models_download(
    urls: tuple[str, ...], list_file: Path | None, name: str | None, overwrite: bool, as_json: bool
) -> None:
    """Download voice models (.pth or .zip links, or names of the voice catalogue:
    `urvc models search`) into the library.

    Each download shows a progress bar; one that is cut off resumes where it stopped
    when you run the command again. One that fails doesn't stop the others: a summary
    lists each URL with its voice model or its error, and the exit code is 1 if any
    failed.
    """
    from urvc_core.voices import download_voices, read_download_list, resolve_download

    if not urls and list_file is None:
        raise click.UsageError(
            "Give the URL or catalogue name of a voice model, or --from-file LIST.csv."
        )
    if name is not None and (len(urls) != 1 or list_file is not None):
        raise click.UsageError("--name is for a single URL; a list file has a name column.")
    downloads = [resolve_download(url, name) for url in urls]
    if list_file is not None:
        downloads += read_download_list(list_file)
    _report(download_voices(downloads, overwrite=overwrite), "downloads", as_json)


def _report(results: Sequence[VoiceImportResult], what: str, as_json: bool) -> None:
    """Print each item's voice models or error; exit 1 (a UrvcError) if any failed."""
    from urvc_core.errors import UrvcError

    failed = [result for result in results if not result.ok]
    if len(results) == 1 and failed and not as_json:
        raise UrvcError(str(failed[0].error))  # one item: its own error says it all
    if as_json:
        echo_json([result.as_dict() for result in results])
    else:
        for result in results:
            if result.error is not None:
                # A row of a list file without a URL: its error says which line it is.
                source = f"{result.source}: " if result.source else ""
                click.echo(f"failed    {source}{result.error}")
            for entry in result.entries:
                index = f", index {entry.index_path.name}" if entry.index_path else ", no index"
                click.echo(
                    f"imported  {result.source} -> {entry.name} ({entry.info.version}, "
                    f"{entry.info.sample_rate} Hz{index})"
                )
    if failed:
        done = "" if len(failed) == len(results) else "; the others are in the library"
        raise UrvcError(
            f"{len(failed)} of {len(results)} {what} failed (listed above){done}. Fix what "
            f"each error says and run the command again for those."
        )


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


@models.command(name="fuse")
@click.argument("sources", nargs=-1, required=True)
@click.option("--name", required=True, help="The new model's name in the library.")
@click.option(
    "--weights",
    help="Comma-separated: one per model for weighted-sum (scaled to sum to 1; default "
    "equal), the multiplier w for add-difference (default 1).",
)
@click.option(
    "--method",
    default="weighted-sum",
    show_default=True,
    help="weighted-sum, add-difference (A + (B - C) x w), or a plugin's (`urvc backends fusion`).",
)
@click.option("--overwrite", is_flag=True, help="Replace a library model of that name.")
@json_option
def models_fuse(
    sources: tuple[str, ...],
    name: str,
    weights: str | None,
    method: str,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Fuse voice models (library names or .pth paths) into a new library model.

    The models must share version, sample rate and pitch guidance. The result is a
    community-format .pth that RVC and Applio load too.
    """
    from urvc_core.errors import UrvcError
    from urvc_core.fusion import fuse_models

    values: list[float] | None = None
    if weights is not None:
        try:
            values = [float(part) for part in weights.split(",") if part.strip()]
        except ValueError:
            raise UrvcError(
                f"--weights {weights!r} is not a comma-separated list of numbers (e.g. 0.7,0.3)."
            ) from None
    entry = fuse_models(
        list(sources), name=name, weights=values, method=method, overwrite=overwrite
    )
    if as_json:
        echo_json(entry.as_dict())
        return
    click.echo(f"fused     {', '.join(sources)} -> {entry.name} ({entry.model_path})")


@models.command(name="compare")
@click.argument("first")
@click.argument("second")
@json_option
def models_compare(first: str, second: str, as_json: bool) -> None:
    """How alike two voice models' weights are: cosine similarity overall, by part of the
    network and of the speaker embeddings (1: the same weights). Not how alike the
    voices sound: models fine-tuned from one base score close to 1."""
    from urvc_core.fusion import compare_models

    comparison = compare_models(first, second)
    if as_json:
        echo_json(comparison.as_dict())
        return
    rows = [["overall", f"{comparison.overall:.6f}"]]
    rows += [[part, f"{value:.6f}"] for part, value in comparison.parts.items()]
    rows.append(["speaker embedding (speaker 0)", f"{comparison.speaker:.6f}"])
    echo_table(["weights", "cosine similarity"], rows)


@models.command(name="preview")
@click.argument("name")
@conversion_options
@device_option
@click.option("--refresh", is_flag=True, help="Convert again, replacing the cached preview.")
@json_option
def models_preview(
    name: str, device: str | None, refresh: bool, as_json: bool, **settings: Any
) -> None:
    """Hear a voice model: convert urvc's spoken sample with it and save it beside the model
    (`urvc models info` shows where). Conversion options apply; cached."""
    from urvc_core.devices import use_device
    from urvc_core.previews import preview_voice_model

    given = {key: value for key, value in settings.items() if value is not None}
    with use_device(device):
        result = preview_voice_model(name, refresh=refresh, **given)
    if as_json:
        echo_json(result.as_dict())
        return
    source = "from the cache" if result.cached else f"in {result.seconds:.1f} s"
    click.echo(f"Preview of {result.voice} ({result.duration:.1f} s, {source}): {result.path}")


@models.command(name="search")
@click.argument("query", required=False, default="")
@click.option("--tag", "tags", multiple=True, help="Only models with this tag. Repeatable.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many results.")
@click.option("--download", is_flag=True, help="Download the results into the library.")
@click.option(
    "--overwrite", is_flag=True, help="With --download: replace models of the same names."
)
@json_option
def models_search(
    query: str,
    tags: tuple[str, ...],
    limit: int | None,
    download: bool,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Search the catalogue of public voice models (name, description, credit, tags).

    Offline it searches the list urvc ships; `urvc models catalogue update` fetches the
    community's current one. --download brings the results into the library.
    """
    from urvc_core.voice_catalogue import search_catalogue
    from urvc_core.voices import download_catalogue_models

    found = search_catalogue(query, tags=tags, limit=limit)
    if download:
        if not found:
            raise click.UsageError("No voice model of the catalogue matches: nothing to download.")
        _report(download_catalogue_models(found, overwrite=overwrite), "downloads", as_json)
        return
    if as_json:
        echo_json([entry.as_dict() for entry in found])
        return
    if not found:
        click.echo("No voice model of the catalogue matches.")
        return
    echo_table(
        ["name", "tags", "added", "description"],
        [[e.name, ", ".join(e.tags), e.added, e.description] for e in found],
    )


@models.group(name="catalogue")
def models_catalogue() -> None:
    """The catalogue of public voice models `urvc models search` searches."""


@models_catalogue.command(name="update")
@click.option("--url", help="A catalogue in the same layout to use instead of the community's.")
@json_option
def models_catalogue_update(url: str | None, as_json: bool) -> None:
    """Fetch the community's current list of public voice models, and search it from now on."""
    from urvc_core.voice_catalogue import update_catalogue

    catalogue = update_catalogue(url=url)
    if as_json:
        echo_json(catalogue.as_dict())
        return
    click.echo(f"{len(catalogue.entries)} voice models in {catalogue.path}")


@models_catalogue.command(name="show")
@json_option
def models_catalogue_show(as_json: bool) -> None:
    """Which catalogue is in use (urvc's own or an updated one), its size and its tags."""
    from urvc_core.voice_catalogue import load_catalogue

    catalogue = load_catalogue()
    if as_json:
        echo_json(catalogue.as_dict())
        return
    which = "updated" if catalogue.updated else "shipped with urvc"
    click.echo(f"{len(catalogue.entries)} voice models ({which}): {catalogue.path}")
    for tag, text in catalogue.tags.items():
        click.echo(f"  {tag}: {text}")


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
