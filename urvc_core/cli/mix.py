"""``urvc mix``: a thin layer over :func:`urvc_core.mixing.mix_files`."""

from __future__ import annotations

from pathlib import Path

import click

from urvc_core.console import echo_json, json_option


@click.command()
@click.argument("tracks", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="The mix to write (wav, flac, ogg or mp3, from its suffix or --format).",
)
@click.option(
    "-g",
    "--gain",
    "gains",
    type=float,
    multiple=True,
    help="Gain in dB of each track, in the order of TRACKS (all or none).",
)
@click.option(
    "--match-loudness",
    "reference",
    type=click.Path(path_type=Path),
    help="Bring the mix to this song's integrated loudness (the original of a cover).",
)
@click.option("--target-lufs", type=float, help="Bring the mix to this integrated loudness.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["mp3", "wav", "flac", "ogg"]),
    help="Output format (default: from the output's suffix).",
)
@click.option("--sample-rate", type=int, help="Sample rate in Hz (default: config, 44100).")
@click.option(
    "--ceiling",
    type=click.FloatRange(-20.0, 0.0),
    default=-1.0,
    show_default=True,
    help="True-peak ceiling of the limiter, in dBTP.",
)
@json_option
def mix(
    tracks: tuple[Path, ...],
    output: Path,
    gains: tuple[float, ...],
    reference: Path | None,
    target_lufs: float | None,
    output_format: str | None,
    sample_rate: int | None,
    ceiling: float,
    as_json: bool,
) -> None:
    """Mix TRACKS into one file, each with its gain, never clipping.

    Every track is high-passed at 20 Hz first (no offset or rumble is turned up). With
    --match-loudness the mix gets the reference's integrated loudness (BS.1770); a
    true-peak limiter keeps it under the ceiling.
    """
    from urvc_core.mixing import mix_files

    result = mix_files(
        list(tracks),
        output,
        gains_db=gains,
        match_loudness_of=reference,
        target_lufs=target_lufs,
        sample_rate=sample_rate,
        output_format=output_format,
        ceiling_dbtp=ceiling,
    )
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(str(result.path))
