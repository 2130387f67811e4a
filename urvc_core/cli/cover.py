"""``urvc cover`` and ``urvc separate``: song covers and their separation step.

Thin layers over :func:`urvc_core.cover.make_covers` and
:func:`urvc_core.separation.separate_files`, which share the separation options and the
step cache. ``urvc demo`` shows its cover with :func:`cover_bars` and :func:`print_cover`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from urvc_core.cli.options import conversion_options, setting_options
from urvc_core.console import echo_json, echo_table, json_option
from urvc_core.cover_options import COVER_SETTINGS


class CoverBars:
    """Two tqdm bars on stderr: every step of the run, and the step running now."""

    def __init__(self, label: str = "cover") -> None:
        from tqdm import tqdm

        self.overall = tqdm(total=1, desc=label, unit="step", disable=None, leave=False, position=0)
        self.current = tqdm(total=1000, desc="", unit="‰", disable=None, leave=False, position=1)

    def plan(self, steps: int) -> None:
        self.overall.total = max(1, steps)
        self.overall.refresh()

    def step(self, name: str) -> None:
        self.current.reset(total=1000)
        self.current.set_description(name)

    def fraction(self, value: float) -> None:
        self.current.update(max(0, int(value * 1000) - self.current.n))

    def step_done(self, report: Any) -> None:
        self.current.update(1000 - self.current.n)
        if self.overall.total is not None and self.overall.n < self.overall.total:
            self.overall.update(1)

    def close(self) -> None:
        self.current.close()
        self.overall.close()


@contextlib.contextmanager
def cover_bars(label: str = "cover") -> Iterator[CoverBars]:
    """The bars of one cover run (or another run of steps: ``label``), closed when it
    ends however it ends."""
    bars = CoverBars(label)
    try:
        yield bars
    finally:
        bars.close()


#: The options `urvc separate` shares with `urvc cover`.
SEPARATION_SETTINGS = ("separation", "separator_steps", "ensemble", "skip_steps", "device")


def print_steps(steps: Sequence[Any]) -> None:
    echo_table(
        ["step", "backend", "seconds", "cache"],
        [
            [
                step.name,
                step.backend,
                f"{step.seconds:.2f}",
                "hit" if step.cached else ("computed" if step.key else "-"),
            ]
            for step in steps
        ],
    )


@click.command()
@click.argument("songs", nargs=-1, required=True)
@click.option(
    "-m",
    "--model",
    required=True,
    help="Voice model: a library name, a .pth path, or a .pth/.zip URL (downloaded once).",
)
@setting_options(COVER_SETTINGS)
@conversion_options
@json_option
def cover(songs: tuple[str, ...], model: str, as_json: bool, **settings: Any) -> None:
    """Make covers of SONGS in the voice of an RVC model.

    SONGS are audio files, folders of them, or URLs (direct links, or pages yt-dlp
    knows). Each is separated, its vocals converted, given effects, mixed again with
    the instrumental pitch-shifted to follow, at the original's loudness. Every step
    is cached: a re-run with a changed mix redoes only the mix. A song that fails
    doesn't stop the others: they are listed at the end (exit code 1).
    """
    from urvc_core.cover import make_covers
    from urvc_core.cover_options import CoverOptions
    from urvc_core.errors import BatchError

    options = CoverOptions.from_settings(settings)
    try:
        with cover_bars() as bars:
            results = make_covers(list(songs), model, options, progress=bars)
    except BatchError as failed:
        _print_covers(failed.results, as_json)
        raise
    _print_covers(results, as_json)


def _print_covers(results: Sequence[Any], as_json: bool) -> None:
    if as_json:
        echo_json([result.as_dict() for result in results])
        return
    for result in results:
        for note in result.notes:
            click.echo(note, err=True)
        print_cover(result)


def print_cover(result: Any) -> None:
    print_steps(result.steps)
    mix = result.mix
    loudness = mix.get("loudness_lufs")
    target = mix.get("target_lufs")
    click.echo(
        f"voice: {result.voice} ({result.model_path}); pitch: vocals {result.pitch['vocals']:+g}, "
        f"instrumental {result.pitch['instrumental']:+g} semitones"
    )
    if loudness is not None:
        matched = f" (song: {target:.1f} LUFS)" if target is not None else ""
        click.echo(
            f"loudness: {loudness:.1f} LUFS{matched}, true peak {mix.get('true_peak_dbtp')} dBTP"
        )
    click.echo(f"{result.seconds:.1f} s, {len(result.cache_hits)} step(s) from the cache")
    click.echo(f"Cover: {result.output}")


@click.command()
@click.argument("songs", nargs=-1)
@click.option(
    "-o",
    "--output",
    "output_dir",
    type=click.Path(path_type=Path),
    help="Folder for the stems (default: the urvc outputs folder).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["wav", "flac", "mp3", "ogg"]),
    default="wav",
    show_default=True,
    help="Format of the stem files.",
)
@setting_options(COVER_SETTINGS, SEPARATION_SETTINGS)
@click.option("--refresh", is_flag=True, help="Recompute every step, replacing cached results.")
@click.option(
    "--cookies",
    type=click.Path(path_type=Path),
    help="Browser cookies (cookies.txt) for sites that ask to sign in (yt-dlp).",
)
@click.option("--list-presets", is_flag=True, help="List the separation presets and exit.")
@json_option
def separate(
    songs: tuple[str, ...],
    output_dir: Path | None,
    output_format: str,
    separation: str | None,
    separator_steps: tuple[str, ...],
    ensemble: tuple[str, ...],
    skip_steps: tuple[str, ...],
    device: str | None,
    refresh: bool,
    cookies: Path | None,
    list_presets: bool,
    as_json: bool,
) -> None:
    """Separate SONGS into vocals, instrumental, main/backup vocals and reverb.

    Writes `<song> (<Stem>).<format>` for every stem the chain produces. The steps are
    cached and shared with `urvc cover`. A song that fails doesn't stop the others:
    they are listed at the end (exit code 1).
    """
    from urvc_core.errors import BatchError
    from urvc_core.separation import list_presets as separation_presets
    from urvc_core.separation import separate_files

    if list_presets:
        presets = separation_presets()
        if as_json:
            echo_json([{**preset.as_dict(), "plugin": plugin} for preset, plugin in presets])
            return
        echo_table(
            ["preset", "plugin", "steps", "description"],
            [
                [p.name, plugin, " -> ".join(step.spec() for step in p.steps), p.description]
                for p, plugin in presets
            ],
        )
        return
    if not songs:
        raise click.UsageError("Name at least one song (a file, a folder or a URL).")
    try:
        results = separate_files(
            list(songs),
            output_dir=output_dir,
            preset=separation,
            steps=separator_steps,
            skip=skip_steps,
            combine=ensemble,
            output_format=output_format,
            cookies=cookies,
            refresh=refresh,
            device=device,
        )
    except BatchError as failed:
        _print_stems(failed.results, as_json)
        raise
    _print_stems(results, as_json)


def _print_stems(results: Sequence[Any], as_json: bool) -> None:
    if as_json:
        echo_json([result.as_dict() for result in results])
        return
    for result in results:
        for note in result.notes:
            click.echo(note, err=True)
        for path in result.files.values():
            click.echo(str(path))
