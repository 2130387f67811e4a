"""``urvc convert`` and ``urvc f0 extract``: voice conversion (:mod:`urvc_core.rvc`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from urvc_core.cli.options import conversion_options, device_option
from urvc_core.console import echo_json, json_option, progress_bar


@click.group()
def f0() -> None:
    """Pitch curves: extract one from any audio, to edit or to reuse with --f0-file."""


@f0.command(name="extract")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--f0-method",
    "methods",
    default="harvest",
    show_default=True,
    help="Pitch extractor, or a comma list to combine.",
)
@click.option(
    "--f0-combine",
    "combine",
    type=click.Choice(["median", "mean", "min", "max"]),
    default="median",
    show_default=True,
    help="How several methods are combined.",
)
@click.option("--f0-min", type=float, default=50.0, show_default=True, help="Lowest pitch (Hz).")
@click.option("--f0-max", type=float, default=1100.0, show_default=True, help="Highest pitch (Hz).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="The curve file to write (CSV: time_s,f0_hz).",
)
@device_option
def f0_extract(
    source: Path,
    methods: str,
    combine: str,
    f0_min: float,
    f0_max: float,
    output: Path,
    device: str | None,
) -> None:
    """Write the pitch curve of SOURCE to a CSV file that `urvc convert --f0-file` reads."""
    from urvc_core.audio import check_output_is_not_an_input
    from urvc_core.devices import use_device
    from urvc_core.rvc.pitch import extract_f0_curve, write_f0_curve

    check_output_is_not_an_input(output, [source])
    with use_device(device):
        curve = extract_f0_curve(
            source,
            methods=[m.strip() for m in methods.split(",") if m.strip()],
            combine=combine,
            f0_min=f0_min,
            f0_max=f0_max,
        )
    click.echo(str(write_f0_curve(output, curve)))


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-m", "--model", required=True, help="Voice model: a library name or a .pth path.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output file (one input) or folder (default: the urvc outputs folder).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["wav", "flac", "ogg", "mp3"]),
    help="Output format (default: from the output file's suffix, else wav).",
)
@conversion_options
@device_option
@json_option
def convert(
    sources: tuple[Path, ...],
    model: str,
    output: Path | None,
    output_format: str | None,
    device: str | None,
    as_json: bool,
    **settings: Any,
) -> None:
    """Convert recordings to the voice of an RVC model.

    SOURCES are audio files or folders of them; the model is loaded once for all (once
    per device with several devices: --device cuda:0,cuda:1). A file that fails doesn't
    stop the others: they are listed at the end (exit code 1).
    """
    from urvc_core.devices import parse_devices
    from urvc_core.errors import BatchError
    from urvc_core.home import urvc_home
    from urvc_core.rvc.conversion import convert_voice, convert_voices

    given = {name: value for name, value in settings.items() if value is not None}
    # Several devices, comma-separated, spread the files over model copies.
    devices = parse_devices(device) if device is not None and "," in device else None
    single = len(sources) == 1 and not sources[0].is_dir()
    if single and output is not None and output.suffix:
        with progress_bar(f"{sources[0].name}") as update:
            result = convert_voice(
                sources[0],
                model,
                output=output,
                output_format=output_format,
                progress=update,
                device=devices[0] if devices else device,
                **given,
            )
        results = [result]
    else:
        folder = output or urvc_home().outputs
        format_name = output_format or "wav"
        # By file, as files are converted side by side on several devices.
        done: dict[int, float] = {}
        try:
            with progress_bar("converting") as update:

                def advance(number: int, total: int, fraction: float) -> None:
                    done[number] = fraction
                    update(sum(done.values()) / total)

                results = convert_voices(
                    list(sources),
                    model,
                    output_dir=folder,
                    output_format=format_name,
                    progress=advance,
                    device=None if devices else device,
                    devices=devices,
                    **given,
                )
        except BatchError as failed:
            _print_conversions(failed.results, as_json)
            raise
    _print_conversions(results, as_json)


def _print_conversions(results: list[Any], as_json: bool) -> None:
    if as_json:
        echo_json([r.as_dict() for r in results])
        return
    for result in results:
        for note in result.notes:
            click.echo(note, err=True)
        click.echo(str(result.output_path))
