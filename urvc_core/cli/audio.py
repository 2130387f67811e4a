"""``urvc audio info|convert``: audio files (:mod:`urvc_core.audio`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from urvc_core.console import echo_json, json_option


@click.group()
def audio() -> None:
    """Inspect and convert audio files."""


@audio.command(name="info")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
def audio_info_command(path: Path, as_json: bool) -> None:
    """Show an audio file's format, sample rate, channels and length.

    Also says when the file holds less than its header promises (a WAV cut short) and
    counts NaN or infinite samples (a damaged float file), which no command will use.
    """
    from urvc_core.audio import audio_info

    info = audio_info(path)
    if as_json:
        echo_json({"path": str(path), **dataclasses.asdict(info)})
        return
    line = (
        f"{path}: {info.format}, {info.sample_rate} Hz, {info.channels} channel(s), "
        f"{info.frames} frames, {info.duration:.3f} s"
    )
    if info.header_frames is not None:
        line += f" (cut short: its header gives {info.header_frames / info.sample_rate:.3f} s)"
    if info.nonfinite_samples:
        line += (
            f"; {info.nonfinite_samples} NaN or infinite sample(s), the first at "
            f"{info.first_nonfinite_seconds:.3f} s"
        )
    click.echo(line)


@audio.command(name="convert")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("destination", type=click.Path(path_type=Path))
@click.option("--sample-rate", type=int, help="Resample to this rate (Hz).")
@click.option("--channels", type=click.IntRange(1, 2), help="1 for mono, 2 for stereo.")
@click.option("--bitrate", "bitrate_kbps", type=int, help="mp3 bitrate in kbps.")
def audio_convert(
    source: Path,
    destination: Path,
    sample_rate: int | None,
    channels: int | None,
    bitrate_kbps: int | None,
) -> None:
    """Convert SOURCE to DESTINATION (wav, flac, ogg or mp3, from its suffix)."""
    from urvc_core.audio import convert_audio_file

    written = convert_audio_file(
        source,
        destination,
        sample_rate=sample_rate,
        channels=channels,
        bitrate_kbps=bitrate_kbps,
    )
    click.echo(str(written))
