"""``urvc demo``: a cover made offline (:mod:`urvc_core.demo`), shown as `urvc cover` shows one."""

from __future__ import annotations

from pathlib import Path

import click

from urvc_core.cli.cover import cover_bars, print_cover
from urvc_core.cli.options import device_option
from urvc_core.console import echo_json, json_option


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
    """Make a cover offline, from an example song and a voice model urvc builds.

    The voice model's weights are set by hand, not trained: it hums the song's melody in
    a buzzing voice and sings no words; it shows the pipeline working, not a singer.
    """
    from urvc_core.demo import (
        DEMO_VOICE_NAME,
        build_demo_assets,
        demo_command,
        demo_cover_options,
        run_demo,
    )
    from urvc_core.devices import use_device

    if assets_only:
        assets = build_demo_assets(folder)
        command = demo_command(assets, demo_cover_options())
        if as_json:
            echo_json({**assets.as_dict(), "command": command})
            return
        for name, path in assets.as_dict().items():
            click.echo(f"{name}: {path}")
        click.echo(f"Run: {command}")
        return
    with cover_bars() as bars, use_device(device):
        result = run_demo(folder, progress=bars)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"Ran: {result.command}")
    print_cover(result.cover)
    click.echo(
        f"\nThe voice is '{DEMO_VOICE_NAME}': a voice model whose weights urvc set by "
        f"hand instead of training them, so the cover hums the vocal's melody, in its "
        f"rhythm, in a buzzing voice that is nobody's, without words. The song is a CMU "
        f"ARCTIC sentence over a synthesized band."
    )
    click.echo(
        "With a real voice model: `urvc models download URL` (a .pth or .zip link), then "
        "`urvc cover song.mp3 -m NAME`."
    )
