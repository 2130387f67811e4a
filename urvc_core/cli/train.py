"""``urvc train ...``: training voice models (:mod:`urvc_core.training`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from urvc_core.console import echo_json, json_option


@click.group()
def train() -> None:
    """Train a voice model from recordings: preprocess, then the steps after it."""


@train.command(name="preprocess")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "--name", required=True, help="The model's name (its workspace, then its library name)."
)
@click.option(
    "--sample-rate",
    type=click.Choice(["32000", "40000", "48000"]),
    default="40000",
    show_default=True,
    help="The model's sample rate.",
)
@click.option(
    "--split",
    type=click.Choice(["skip", "simple", "automatic"]),
    default="automatic",
    show_default=True,
    help="skip: files are clips already; simple: cut into chunks; automatic: at silences first.",
)
@click.option(
    "--chunk-seconds", type=float, default=3.0, show_default=True, help="Clip length [s]."
)
@click.option(
    "--overlap-seconds", type=float, default=0.3, show_default=True, help="Clip overlap [s]."
)
@click.option(
    "--normalise",
    type=click.Choice(["none", "pre", "post"]),
    default="post",
    show_default=True,
    help="Level the whole file (pre) or each clip (post), as RVC does.",
)
@click.option("--noise-reduction", is_flag=True, help="Reduce steady noise first (noisereduce).")
@json_option
def preprocess(dataset: Path, name: str, sample_rate: str, as_json: bool, **settings: Any) -> None:
    """Cut the recordings in DATASET into training clips (resumable; files that can't be
    read are reported and skipped)."""
    from urvc_core.console import progress_bar
    from urvc_core.training import preprocess_dataset

    with progress_bar("preprocess") as update:
        result = preprocess_dataset(
            dataset,
            name,
            sample_rate=int(sample_rate),
            progress=lambda done, total, file: update(done / max(1, total)),
            **settings,
        )
    if as_json:
        echo_json(result.as_dict())
        return
    for note in result.notes:
        click.echo(note, err=True)
    click.echo(
        f"{result.clips} clips, {result.seconds / 60:.1f} min of audio ({result.processed} "
        f"files processed, {result.reused} from an earlier run, {len(result.failed)} skipped)"
    )
    click.echo(f"Workspace: {result.workspace}")


@train.command(name="extract")
@click.argument("name")
@click.option(
    "--f0-method",
    default="fcpe",
    show_default=True,
    help="The pitch extractor (rmvpe with urvc-f0-rmvpe, fcpe, crepe, harvest...).",
)
@click.option(
    "--embedder",
    default="contentvec",
    show_default=True,
    help="The content embedder: a name (`urvc backends embedder`) or a model's path.",
)
@click.option(
    "--version",
    "model_version",
    type=click.Choice(["v1", "v2"]),
    default="v2",
    show_default=True,
    help="The model version to train: v1 (256-dim features) or v2 (768).",
)
@json_option
def extract(name: str, f0_method: str, embedder: str, model_version: str, as_json: bool) -> None:
    """Pitch and content features of every clip of NAME (after preprocess). Each setting
    is kept apart: another --embedder redoes the features, not the pitch."""
    from urvc_core.console import progress_bar
    from urvc_core.training import extract_features

    with progress_bar("extract") as update:
        result = extract_features(
            name,
            f0_method=f0_method,
            embedder=embedder,
            version=model_version,
            progress=lambda done, total: update(done / max(1, total)),
        )
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(
        f"{result.clips} clips: pitch computed for {result.pitch_computed}, features for "
        f"{result.features_computed} (the rest were there)"
    )
    click.echo(f"File list: {result.filelist}")
