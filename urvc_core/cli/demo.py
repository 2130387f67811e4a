"""``urvc demo``: a cover made offline (:mod:`urvc_core.demo`), shown as `urvc cover` shows one."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from urvc_core.cli.cover import cover_bars, print_cover
from urvc_core.cli.options import device_option
from urvc_core.console import echo_json, json_option


@contextlib.contextmanager
def training_bar() -> Iterator[Callable[[Any], None]]:
    """A progress bar over the demo voice's training steps (quiet when already trained)."""
    from urvc_core.console import progress_bar

    with progress_bar("training the voice") as update:
        yield lambda step: update(step.step / (step.epochs * step.steps_per_epoch))


@click.command()
@click.option(
    "--folder",
    type=click.Path(path_type=Path),
    help="Where the demo's files go (default: <urvc home>/demo).",
)
@click.option(
    "--assets-only", is_flag=True, help="Build the demo's files and print them; no cover."
)
@device_option
@json_option
def demo(folder: Path | None, assets_only: bool, device: str | None, as_json: bool) -> None:
    """Make a cover offline, from an example song and a voice model urvc trains.

    The first run trains the voice (about three minutes on two CPU cores, once): a small
    network on one spoken sentence, so it follows the words' rhythm and the melody in a
    rough voice; it shows the whole product working, not a singer.
    """
    from urvc_core.demo import (
        DEMO_TRAINING,
        DEMO_VOICE_NAME,
        build_demo_assets,
        demo_command,
        demo_cover_options,
        demo_voice_path,
        run_demo,
    )
    from urvc_core.devices import use_device

    if not demo_voice_path().is_file() and not as_json:
        click.echo(
            f"Training the demo's voice, once (about three minutes on two CPU cores): RVC's "
            f"training of a small network, {DEMO_TRAINING['epochs']} epochs on one sentence "
            f"of speech; Ctrl-C stops it and the next run goes on."
        )
    with training_bar() as training_progress:
        if assets_only:
            assets = build_demo_assets(folder, training_progress=training_progress)
        else:
            with cover_bars() as bars, use_device(device):
                result = run_demo(folder, progress=bars, training_progress=training_progress)
    if assets_only:
        command = demo_command(assets, demo_cover_options())
        if as_json:
            echo_json({**assets.as_dict(), "command": command})
            return
        for name, path in assets.as_dict().items():
            click.echo(f"{name}: {path}")
        click.echo(f"Run: {command}")
        return
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"Ran: {result.command}")
    print_cover(result.cover)
    click.echo(
        f"\nThe voice is '{DEMO_VOICE_NAME}': urvc trained it on the song's own sentence "
        f"(CMU ARCTIC, read three times), a small network for minutes where a real voice "
        f"is RVC's full-size network trained for hours on ten minutes or more of one "
        f"singer, and on the features of an embedder with random weights (ContentVec can't "
        f"be downloaded offline). So it follows the words' rhythm and the melody in a "
        f"rough, buzzing voice. The song is that sentence over a synthesized band."
    )
    click.echo(
        "With a real voice model: `urvc models download URL` (a .pth or .zip link), then "
        "`urvc cover song.mp3 -m NAME`."
    )
