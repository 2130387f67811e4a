"""``urvc train ...``: training voice models (:mod:`urvc_core.training`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
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


@train.command(name="fit")
@click.argument("name")
@click.option("--epochs", type=int, default=20, show_default=True, help="Train up to this epoch.")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Clips per step.")
@click.option(
    "--save-every",
    type=int,
    default=5,
    show_default=True,
    help="Save a checkpoint and an inference model every K epochs (and at the end).",
)
@click.option(
    "--size",
    "model_size",
    type=click.Choice(["full", "small"]),
    default="full",
    show_default=True,
    help="full: RVC's network; small: a narrow one that trains in minutes on a CPU (demos).",
)
@click.option(
    "--pitch-guidance/--no-pitch-guidance",
    default=True,
    show_default=True,
    help="Train a model that follows the pitch (for singing) or one that doesn't.",
)
@click.option(
    "--pretrained-g",
    type=click.Path(path_type=Path),
    help="Start from this generator (default: RVC's published one, for full size).",
)
@click.option("--pretrained-d", type=click.Path(path_type=Path), help="...and this discriminator.")
@click.option("--no-pretrained", is_flag=True, help="Train from scratch.")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16", "fp16"]),
    default="fp32",
    show_default=True,
    help="bf16/fp16 run the networks in half precision (faster on a GPU).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps...")
@click.option("--learning-rate", type=float, default=1e-4, show_default=True)
@click.option(
    "--validation-fraction",
    type=float,
    default=0.1,
    show_default=True,
    help="Share of the clips held out to score each epoch on.",
)
@click.option(
    "--overtraining-patience",
    type=int,
    default=10,
    show_default=True,
    help="Epochs without a better held-out score before the run counts as overtraining.",
)
@click.option("--stop-on-overtraining", is_flag=True, help="Stop when it is overtraining.")
@click.option("--seed", type=int, default=1234, show_default=True)
@json_option
def fit(
    name: str,
    pretrained_g: Path | None,
    pretrained_d: Path | None,
    no_pretrained: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Train the voice model NAME on its extracted features (RVC's GAN training).

    Run it again to resume from the newest checkpoint; Ctrl-C saves one first."""
    from urvc_core.training import FitSettings, train_model

    settings = FitSettings(
        pretrained="none" if no_pretrained else "default",
        pretrained_g=pretrained_g,
        pretrained_d=pretrained_d,
        **options,
    )
    if not as_json:
        click.echo(f"Training '{name}' for {settings.epochs} epochs (Ctrl-C saves and stops).")
    with progress_bar_for_training(as_json) as report:
        result = train_model(name, settings, progress=report)
    if as_json:
        echo_json(result.as_dict())
    else:
        for note in result.notes:
            click.echo(note)
        click.echo(
            f"{result.steps} steps, {result.steps_per_second:.2f} steps/s on {result.device}, "
            f"{result.config}; {result.training_clips} clips trained on, "
            f"{result.validation_clips} held out."
        )
        if result.best_epoch is not None:
            click.echo(f"Best held-out epoch: {result.best_epoch}.")
        if result.weights:
            click.echo(f"Inference model: {result.weights[-1]}")
    if result.interrupted:
        click.echo(
            f"Interrupted: saved {result.checkpoints[-1].name}; run the same command to resume.",
            err=True,
        )
        raise SystemExit(130)


@contextlib.contextmanager
def progress_bar_for_training(quiet: bool) -> Iterator[Callable[[Any], None]]:
    """A bar over the steps of each epoch, and a line of losses when an epoch ends."""
    from urvc_core.console import progress_bar

    with progress_bar("fit") as update:

        def report(step: Any) -> None:
            done = (step.epoch - 1 + step.step_in_epoch / step.steps_per_epoch) / step.epochs
            update(done)
            if quiet:
                return
            if step.validation is not None:
                held_out = step.validation
                flag = "  (overtraining)" if held_out["overtraining"] else ""
                click.echo(
                    f"  epoch {step.epoch}: held-out mel {held_out['mel_loss']:.3f}, pitch "
                    f"error {held_out['f0_rmse_cents']:.0f} cents{flag}"
                )
            elif step.step_in_epoch == step.steps_per_epoch:
                losses = step.losses
                click.echo(
                    f"epoch {step.epoch}/{step.epochs} step {step.step}: "
                    f"G {losses['loss_g']:.2f} (mel {losses['loss_mel']:.2f}, kl "
                    f"{losses['loss_kl']:.2f}, fm {losses['loss_fm']:.2f}, adv "
                    f"{losses['loss_gen']:.2f}), D {losses['loss_d']:.2f}"
                )

        yield report


@train.command(name="graph")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The PNG to write (default: logs/losses.png in the workspace).",
)
def graph(name: str, output: Path | None) -> None:
    """Draw NAME's training and held-out loss curves to a PNG."""
    from urvc_core.training import draw_loss_graph

    click.echo(draw_loss_graph(name, output))


@train.command(name="export")
@click.argument("name")
@click.option(
    "--epoch",
    default="last",
    show_default=True,
    help="A saved epoch's number, last, or best (the lowest held-out mel loss).",
)
@click.option("--voice-name", help="The name in the voice library (default: NAME).")
@click.option("--overwrite", is_flag=True, help="Replace a voice model of that name.")
@json_option
def export(name: str, epoch: str, voice_name: str | None, overwrite: bool, as_json: bool) -> None:
    """Put a saved epoch of NAME into the voice library, with its feature index."""
    from urvc_core.training import export_model

    if epoch not in ("last", "best") and not epoch.isdigit():
        raise click.BadParameter("a number, last or best", param_hint="--epoch")
    chosen, entry = export_model(
        name,
        epoch if not epoch.isdigit() else int(epoch),
        voice_name=voice_name,
        overwrite=overwrite,
    )
    if as_json:
        echo_json({"epoch": chosen, **entry.as_dict()})
        return
    index = f" with {entry.index_path.name}" if entry.index_path else " (no index)"
    click.echo(f"Epoch {chosen} of '{name}' is the voice model '{entry.name}'{index}.")


@train.command(name="index")
@click.argument("name")
@click.option(
    "--embedder",
    default=None,
    help="The features' embedder (a name or a model's path); default: the one extracted last.",
)
@click.option(
    "--version",
    "model_version",
    type=click.Choice(["v1", "v2"]),
    default=None,
    help="The features' model version; default: the one extracted last.",
)
@json_option
def index(name: str, embedder: str | None, model_version: str | None, as_json: bool) -> None:
    """Build the feature index of NAME (after extract). It is RVC's faiss IVF index, named
    as RVC names it, so the voice library pairs it with the model."""
    from urvc_core.training import build_training_index

    result = build_training_index(name, embedder=embedder, version=model_version)
    if as_json:
        echo_json(result.as_dict())
        return
    for note in result.notes:
        click.echo(note, err=True)
    layout = f"{result.lists} IVF lists" if result.lists else "flat"
    click.echo(
        f"{result.vectors} vectors of {result.dim} dimensions ({result.embedder} "
        f"{result.version}, {layout}) from {result.clips} clips in {result.seconds:.1f} s"
    )
    click.echo(f"Index: {result.path}")
