"""The ``urvc`` command line.

Plugins adding commands (``register_commands``) print with the same helpers:
:func:`echo_json`, :func:`echo_table`, :func:`progress_bar`.

Each command is a thin layer over a public function of :mod:`urvc_core`: it parses
options, calls the function and prints the result (a table, or JSON with ``--json``).
A :class:`~urvc_core.errors.UrvcError` becomes ``Error: <message>`` on stderr and exit
code 1, without a traceback; ``URVC_RAISE_ERRORS=1`` lets it through for debugging.
Plugins add commands through the ``register_commands(cli)`` hook.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from urvc_core.errors import UrvcError
from urvc_core.version import __version__


def _raise_errors() -> bool:
    return os.environ.get("URVC_RAISE_ERRORS") == "1"


class UrvcGroup(click.Group):
    """The top-level group: loads plugin commands lazily and turns UrvcError into exit 1."""

    _plugins_ready = False

    def _load_plugins(self) -> None:
        if self._plugins_ready:
            return
        self._plugins_ready = True
        from urvc_core.plugins import plugin_host

        try:
            host = plugin_host()
            host.add_commands(self)
        except UrvcError as exc:
            if _raise_errors():
                raise
            raise click.ClickException(str(exc)) from exc
        for record in host.failures:
            click.echo(
                f"Warning: plugin {record.name} failed to load ({record.error}); "
                f"`urvc plugins list` shows it, URVC_LOAD_PLUGINS can leave it out.",
                err=True,
            )

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugins()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UrvcError as exc:
            if _raise_errors():
                raise
            raise click.ClickException(str(exc)) from exc


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON: what every ``--json`` option prints."""
    click.echo(json.dumps(data, indent=2, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to their widest cell, the last one left ragged."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths[:-1], strict=True)]
        click.echo("  ".join([*padded, row[-1]]).rstrip())


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group(cls=UrvcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="urvc")
def cli() -> None:
    """urvc: retrieval-based voice conversion and AI song covers.

    A small kernel with plugins: `urvc backends` lists what is installed,
    `urvc doctor` checks the installation.
    """


# -- plugins -------------------------------------------------------------------


@cli.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command(name="list")
@click.option("--all", "include_builtin", is_flag=True, help="Include the built-in backends.")
@json_option
def plugins_list(include_builtin: bool, as_json: bool) -> None:
    """List installed plugins, their hooks, and any that failed to load."""
    from urvc_core.plugins import list_plugins

    records = list_plugins(include_builtin)
    if as_json:
        echo_json([record.as_dict() for record in records])
        return
    if not records:
        click.echo("No plugins installed. `urvc plugins list --all` shows built-in backends.")
        return
    echo_table(
        ["name", "version", "status", "hooks"],
        [
            [
                r.name,
                r.version or "built-in",
                f"FAILED: {r.error}" if r.error else "ok",
                ", ".join(r.hooks),
            ]
            for r in records
        ],
    )


def _pip(arguments: list[str]) -> None:
    """Run pip of the Python that runs urvc, so plugins land where urvc finds them."""
    completed = subprocess.run([sys.executable, "-m", "pip", *arguments], check=False)
    if completed.returncode != 0:
        raise UrvcError(f"pip {' '.join(arguments)} failed (exit code {completed.returncode}).")


@cli.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade packages to their newest version.")
@click.option("-e", "--editable", is_flag=True, help="Install a local folder in editable mode.")
def install(packages: tuple[str, ...], upgrade: bool, editable: bool) -> None:
    """Install plugins from PyPI or a local folder into urvc's own environment."""
    arguments = ["install", *(["--upgrade"] if upgrade else [])]
    for package in packages:
        arguments += ["-e", package] if editable else [package]
    _pip(arguments)


@cli.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Don't ask for confirmation.")
def uninstall(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugins from urvc's environment."""
    _pip(["uninstall", *packages, *(["-y"] if yes else [])])


# -- backends ------------------------------------------------------------------


@cli.command()
@click.argument("kind", required=False)
@click.argument("name", required=False)
@json_option
def backends(kind: str | None, name: str | None, as_json: bool) -> None:
    """List backends, of every KIND or of one (separator, f0, embedder, tts, effect, fusion).

    With a NAME, show that backend and its settings.
    """
    from urvc_core.registry import backend_registry, list_backends

    if name is not None:
        assert kind is not None
        info = backend_registry().info(kind, name)
        if as_json:
            echo_json(info.as_dict())
            return
        details = info.as_dict()
        click.echo(f"{details['kind']} {details['name']} (plugin {details['plugin']})")
        if details["description"]:
            click.echo(f"  {details['description']}")
        if details["missing_modules"]:
            click.echo(f"  not available: needs {', '.join(details['missing_modules'])}")
        for setting in info.backend_class.settings:
            unit = f" {setting.unit}" if setting.unit else ""
            allowed = (
                ", ".join(str(c) for c in setting.choices)
                if setting.choices is not None
                else setting.describe_range()
            )
            click.echo(
                f"  --{setting.name.replace('_', '-')}: {setting.help} "
                f"[{setting.type.__name__}, {allowed}, default {setting.default}{unit}]"
            )
        return
    infos = list_backends(kind)
    if as_json:
        echo_json([info.as_dict() for info in infos])
        return
    echo_table(
        ["kind", "name", "plugin", "description"],
        [
            [
                info.kind.value,
                info.name,
                info.plugin,
                info.backend_class.description
                + (
                    " (not available: missing modules)"
                    if info.backend_class.missing_modules()
                    else ""
                ),
            ]
            for info in infos
        ],
    )


# -- doctor, config, assets ----------------------------------------------------


@cli.command()
@json_option
def doctor(as_json: bool) -> None:
    """Check the installation: torch and its device, home folder, assets, plugins.

    Exits with code 1 when it finds a problem.
    """
    from urvc_core.doctor import run_doctor

    report = run_doctor()
    if as_json:
        echo_json(report.as_dict())
    else:
        facts = report.facts
        torch_facts = facts["torch"]
        click.echo(f"urvc {facts['urvc']}, Python {facts['python']}")
        click.echo(f"platform: {facts['platform']}")
        click.echo(f"numpy: {facts['numpy']}")
        if torch_facts["installed"]:
            gpu = f", GPU {torch_facts['gpu']}" if torch_facts["gpu"] else ""
            click.echo(
                f"torch: {torch_facts['version']} ({torch_facts['build']} build{gpu}), "
                f"{torch_facts['threads']} threads"
            )
        else:
            click.echo("torch: not installed")
        click.echo(f"device: {facts['device']}")
        click.echo(f"ffmpeg: {facts['ffmpeg'] or 'not found (mp3/wav/flac/ogg still work)'}")
        click.echo(f"home: {facts['home']}")
        for label, folder in facts["folders"].items():
            state = "" if folder["writable"] else "  (NOT WRITABLE)"
            click.echo(f"  {label}: {folder['path']}{state}")
        plugins_loaded = [p for p in facts["plugins"] if not p["builtin"]]
        click.echo(
            f"plugins: {len(plugins_loaded)} installed"
            + (f" ({', '.join(p['name'] for p in plugins_loaded)})" if plugins_loaded else "")
        )
        click.echo(f"backends: {len(facts['backends'])} ({', '.join(facts['backends'])})")
        assets = facts.get("assets", [])
        present = [a for a in assets if a["present"]]
        click.echo(f"assets: {len(present)} of {len(assets)} present")
        for asset in assets:
            click.echo(
                f"  {asset['name']}: {'present' if asset['present'] else 'missing'} "
                f"({asset['path']})"
            )
        if report.problems:
            click.echo("problems:")
            for problem in report.problems:
                click.echo(f"  - {problem}")
        else:
            click.echo("no problems found")
    if report.problems:
        sys.exit(1)


@cli.group()
def config() -> None:
    """The configuration file: defaults you change once."""


@config.command(name="show")
@json_option
def config_show(as_json: bool) -> None:
    """Show every setting with its value and meaning."""
    from urvc_core.home import CONFIG_SETTINGS, CONVERT_TABLE, load_config
    from urvc_core.rvc.settings import CONVERSION_SETTINGS

    loaded = load_config()
    if as_json:
        echo_json(
            {
                "path": str(loaded.source),
                "settings": dict(loaded.values),
                "convert": {
                    s.name: loaded[f"{CONVERT_TABLE}.{s.name}"] for s in CONVERSION_SETTINGS
                },
                "asset_paths": {k: str(v) for k, v in loaded.asset_paths.items()},
            }
        )
        return
    click.echo(f"# {loaded.source}")
    for setting in CONFIG_SETTINGS:
        click.echo(f"{setting.name} = {loaded[setting.name]!r}    # {setting.help}")
    click.echo(f"\n[{CONVERT_TABLE}]")
    for setting in CONVERSION_SETTINGS:
        value = loaded[f"{CONVERT_TABLE}.{setting.name}"]
        click.echo(f"{setting.name} = {value!r}    # {setting.help}")
    if loaded.asset_paths:
        click.echo("\n[asset_paths]")
    for name, path in loaded.asset_paths.items():
        click.echo(f"{name} = {str(path)!r}")


@config.command(name="set")
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set KEY to VALUE in the configuration file.

    KEY is a setting (`device`) or a conversion default (`convert.index_rate`).
    """
    from urvc_core.home import set_config_value

    loaded = set_config_value(key, value)
    click.echo(f"{key} = {loaded[key]!r}  ({loaded.source})")


@config.command(name="path")
def config_path() -> None:
    """Print the configuration file's path."""
    from urvc_core.home import urvc_home

    click.echo(str(urvc_home().config_file))


@cli.group()
def assets() -> None:
    """Downloadable files the installed plugins need (weights, catalogues)."""


@assets.command(name="list")
@json_option
def assets_list(as_json: bool) -> None:
    """List declared assets, where they go and whether they are present."""
    from urvc_core.catalogue import list_assets

    statuses = list_assets()
    if as_json:
        echo_json([status.as_dict() for status in statuses])
        return
    if not statuses:
        click.echo("No installed plugin declares an asset.")
        return
    echo_table(
        ["name", "plugin", "present", "path"],
        [[s.asset.name, s.plugin, "yes" if s.present else "no", s.path] for s in statuses],
    )


@assets.command(name="download")
@click.argument("names", nargs=-1, required=True)
def assets_download(names: tuple[str, ...]) -> None:
    """Download assets now instead of on first use."""
    from urvc_core.catalogue import fetch_asset

    for name in names:
        click.echo(f"{name}: {fetch_asset(name)}")


@cli.group()
def audio() -> None:
    """Inspect and convert audio files."""


@audio.command(name="info")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
def audio_info_command(path: Path, as_json: bool) -> None:
    """Show an audio file's format, sample rate, channels and length."""
    from urvc_core.audio import audio_info

    info = audio_info(path)
    if as_json:
        echo_json({"path": str(path), **dataclasses.asdict(info)})
        return
    click.echo(
        f"{path}: {info.format}, {info.sample_rate} Hz, {info.channels} channel(s), "
        f"{info.frames} frames, {info.duration:.3f} s"
    )


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


# -- voice models and conversion ----------------------------------------------


@cli.group()
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


@cli.group()
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
def f0_extract(
    source: Path, methods: str, combine: str, f0_min: float, f0_max: float, output: Path
) -> None:
    """Write the pitch curve of SOURCE to a CSV file that `urvc convert --f0-file` reads."""
    from urvc_core.rvc.pitch import extract_f0_curve, write_f0_curve

    curve = extract_f0_curve(
        source,
        methods=[m.strip() for m in methods.split(",") if m.strip()],
        combine=combine,
        f0_min=f0_min,
        f0_max=f0_max,
    )
    click.echo(str(write_f0_curve(output, curve)))


def _conversion_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One option per conversion setting, generated from the settings table.

    Defaults stay None on the command line, so config.toml's [convert] table applies
    where an option is not given; ranges are checked by the table with a clear message.
    """
    from urvc_core.rvc.settings import CONVERSION_SETTINGS

    for setting in reversed(CONVERSION_SETTINGS):
        flag = "--" + setting.name.replace("_", "-")
        unit = f" [{setting.unit}]" if setting.unit else ""
        shown = "" if setting.default is None else f" (default {setting.default})"
        help_text = f"{setting.help}{unit}{shown}"
        if setting.type is bool:
            option = click.option(
                f"{flag}/--no-{flag[2:]}", setting.name, default=None, help=help_text
            )
        elif setting.choices is not None:
            option = click.option(
                flag,
                setting.name,
                type=click.Choice([str(c) for c in setting.choices]),
                default=None,
                help=help_text,
            )
        else:
            option = click.option(
                flag, setting.name, type=setting.type, default=None, help=help_text
            )
        command = option(command)
    return command


@cli.command()
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
@_conversion_options
@json_option
def convert(
    sources: tuple[Path, ...],
    model: str,
    output: Path | None,
    output_format: str | None,
    as_json: bool,
    **settings: Any,
) -> None:
    """Convert recordings to the voice of an RVC model.

    SOURCES are audio files or folders of them; the model is loaded once for all.
    """
    from urvc_core.home import urvc_home
    from urvc_core.rvc.conversion import convert_voice, convert_voices

    given = {name: value for name, value in settings.items() if value is not None}
    single = len(sources) == 1 and not sources[0].is_dir()
    if single and output is not None and output.suffix:
        with progress_bar(f"{sources[0].name}") as update:
            result = convert_voice(
                sources[0],
                model,
                output=output,
                output_format=output_format,
                progress=update,
                **given,
            )
        results = [result]
    else:
        folder = output or urvc_home().outputs
        format_name = output_format or "wav"
        with progress_bar("converting") as update:
            results = convert_voices(
                list(sources),
                model,
                output_dir=folder,
                output_format=format_name,
                progress=lambda number, total, fraction: update((number + fraction) / total),
                **given,
            )
    if as_json:
        echo_json([r.as_dict() for r in results])
        return
    for result in results:
        for note in result.notes:
            click.echo(note, err=True)
        click.echo(str(result.output_path))


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[float], None]]:
    """A tqdm bar on stderr driven by fractions 0..1; silent when stderr is not a terminal."""
    from tqdm import tqdm

    with tqdm(total=1000, desc=label, unit="‰", disable=None, leave=False) as bar:

        def update(fraction: float) -> None:
            bar.update(max(0, int(fraction * 1000) - bar.n))

        yield update


# -- covers ---------------------------------------------------------------------
# The song cover pipeline and its steps of its own: `urvc cover`, `urvc separate`,
# `urvc mix`, `urvc cache`, `urvc demo` (urvc_core.cover, separation, mixing, cache, demo).


class _CoverBars:
    """Two tqdm bars on stderr: every step of the run, and the step running now."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.overall = tqdm(
            total=1, desc="cover", unit="step", disable=None, leave=False, position=0
        )
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
def _cover_bars() -> Iterator[_CoverBars]:
    bars = _CoverBars()
    try:
        yield bars
    finally:
        bars.close()


def _separation_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--separation, --separator-step and --skip, shared by `cover` and `separate`."""
    from urvc_core.separation import AUTO_PRESET, PRESETS, STEP_NAMES

    options = [
        click.option(
            "--separation",
            type=click.Choice([AUTO_PRESET, *PRESETS]),
            default=None,
            help="Separation chain preset (default auto: lead-clean with urvc-separator-mdx, "
            "else the built-in center). `urvc separate --list-presets` shows them.",
        ),
        click.option(
            "--separator-step",
            "separator_steps",
            multiple=True,
            metavar="STEP=SEPARATOR[:SETTING=VALUE,...]",
            help="Replace one step's separator or settings, e.g. "
            "karaoke=mdx:model=UVR_MDXNET_KARA_2.onnx. Repeatable.",
        ),
        click.option(
            "--skip",
            "skip_steps",
            multiple=True,
            type=click.Choice(list(STEP_NAMES)),
            help="Leave a separation step out. Repeatable.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _print_steps(steps: Sequence[Any]) -> None:
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


@cli.command()
@click.argument("songs", nargs=-1, required=True)
@click.option(
    "-m",
    "--model",
    required=True,
    help="Voice model: a library name, a .pth path, or a .pth/.zip URL (downloaded once).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output folder (default: the urvc outputs folder), or a file for one song.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["mp3", "wav", "flac", "ogg"]),
    help="Format of the cover (default: output_format in config.toml, mp3).",
)
@click.option(
    "--sample-rate",
    "output_sample_rate",
    type=int,
    help="Sample rate of the cover in Hz (default: output_sample_rate in config.toml, 44100).",
)
@click.option(
    "--name-template",
    default="{song} ({voice} Ver)",
    show_default=True,
    help="The cover's file name; fields {song}, {voice}, {pitch}, {preset}, {ext}.",
)
@_separation_options
@click.option(
    "--convert-backup/--no-convert-backup",
    default=False,
    help="Convert the backup vocals too (needs the karaoke step).",
)
@click.option("--backup-model", help="Voice model for the backup vocals (default: --model).")
@click.option(
    "-e",
    "--effect",
    "effects",
    multiple=True,
    metavar="NAME[:SETTING=VALUE,...]",
    help="An effect on the converted vocals, e.g. reverb:room_size=0.3. Repeatable, in order.",
)
@click.option("--effects-preset", help="An effects preset for the converted vocals (e.g. clean).")
@click.option(
    "--follow-pitch",
    type=click.Choice(["key", "full", "none"]),
    default="key",
    show_default=True,
    help="How the instrumental and backup vocals follow the voice's --pitch: its key "
    "change without whole octaves, all of it, or not at all.",
)
@click.option(
    "--instrumental-pitch",
    type=float,
    help="Shift the instrumental and backup vocals by this many semitones instead.",
)
@click.option("--vocals-gain", type=float, default=0.0, show_default=True, help="Gain in dB.")
@click.option("--instrumental-gain", type=float, default=0.0, show_default=True, help="Gain in dB.")
@click.option("--backup-gain", type=float, default=0.0, show_default=True, help="Gain in dB.")
@click.option(
    "--match-loudness/--no-match-loudness",
    default=True,
    show_default=True,
    help="Bring the cover to the original song's integrated loudness (never clipping).",
)
@click.option(
    "--keep-intermediates/--drop-intermediates",
    default=True,
    show_default=True,
    help="Keep each step's result in the cache (for quick re-runs), or remove them after.",
)
@click.option("--refresh", is_flag=True, help="Recompute every step, replacing cached results.")
@click.option(
    "--cookies",
    type=click.Path(path_type=Path),
    help="Browser cookies (cookies.txt) for sites that ask to sign in (yt-dlp).",
)
@_conversion_options
@json_option
def cover(
    songs: tuple[str, ...],
    model: str,
    output: Path | None,
    output_format: str | None,
    output_sample_rate: int | None,
    name_template: str,
    separation: str | None,
    separator_steps: tuple[str, ...],
    skip_steps: tuple[str, ...],
    convert_backup: bool,
    backup_model: str | None,
    effects: tuple[str, ...],
    effects_preset: str | None,
    follow_pitch: str,
    instrumental_pitch: float | None,
    vocals_gain: float,
    instrumental_gain: float,
    backup_gain: float,
    match_loudness: bool,
    keep_intermediates: bool,
    refresh: bool,
    cookies: Path | None,
    as_json: bool,
    **settings: Any,
) -> None:
    """Make covers of SONGS in the voice of an RVC model.

    SONGS are audio files, folders of them, or URLs (direct links, or pages yt-dlp
    knows). Each is separated, its vocals converted, given effects, mixed again with
    the instrumental pitch-shifted to follow, at the original's loudness. Every step
    is cached: a re-run with a changed mix redoes only the mix.
    """
    from urvc_core.cover import make_covers

    conversion = {name: value for name, value in settings.items() if value is not None}
    with _cover_bars() as bars:
        results = make_covers(
            list(songs),
            model,
            separation=separation,
            separation_steps=separator_steps,
            skip_steps=skip_steps,
            conversion=conversion,
            convert_backup=convert_backup,
            backup_model=backup_model,
            effects=effects,
            effects_preset=effects_preset,
            instrumental_pitch=instrumental_pitch,
            follow_pitch=follow_pitch,
            vocals_gain_db=vocals_gain,
            instrumental_gain_db=instrumental_gain,
            backup_gain_db=backup_gain,
            match_loudness=match_loudness,
            output_format=output_format,
            output_sample_rate=output_sample_rate,
            output=output,
            name_template=name_template,
            keep_intermediates=keep_intermediates,
            refresh=refresh,
            cookies=cookies,
            progress=bars,
        )
    if as_json:
        echo_json([result.as_dict() for result in results])
        return
    for result in results:
        for note in result.notes:
            click.echo(note, err=True)
        _print_cover(result)


def _print_cover(result: Any) -> None:
    _print_steps(result.steps)
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


@cli.command()
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
@_separation_options
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
    skip_steps: tuple[str, ...],
    refresh: bool,
    cookies: Path | None,
    list_presets: bool,
    as_json: bool,
) -> None:
    """Separate SONGS into vocals, instrumental, main/backup vocals and reverb.

    Writes `<song> (<Stem>).<format>` for every stem the chain produces. The steps are
    cached and shared with `urvc cover`.
    """
    from urvc_core.separation import list_presets as separation_presets
    from urvc_core.separation import separate_files

    if list_presets:
        presets = separation_presets()
        if as_json:
            echo_json([preset.as_dict() for preset in presets])
            return
        echo_table(
            ["preset", "steps", "description"],
            [
                [p.name, " -> ".join(step.spec() for step in p.steps), p.description]
                for p in presets
            ],
        )
        return
    if not songs:
        raise click.UsageError("Name at least one song (a file, a folder or a URL).")
    results = separate_files(
        list(songs),
        output_dir=output_dir,
        preset=separation,
        steps=separator_steps,
        skip=skip_steps,
        output_format=output_format,
        cookies=cookies,
        refresh=refresh,
    )
    if as_json:
        echo_json([result.as_dict() for result in results])
        return
    for result in results:
        for note in result.notes:
            click.echo(note, err=True)
        for path in result.files.values():
            click.echo(str(path))


@cli.command()
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

    With --match-loudness the mix gets the reference's integrated loudness (BS.1770);
    a true-peak limiter keeps it under the ceiling.
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


@cli.group()
def cache() -> None:
    """Cached results of cover steps (separations, conversions, mixes, downloads)."""


@cache.command(name="list")
@json_option
def cache_list(as_json: bool) -> None:
    """List cached results, newest first."""
    from urvc_core.cache import StepCache

    entries = StepCache().entries()
    if as_json:
        echo_json([entry.as_dict() for entry in entries])
        return
    if not entries:
        click.echo("The cache is empty.")
        return
    echo_table(
        ["key", "step", "backend", "created", "size", "outputs"],
        [
            [
                e.key[:12],
                e.step,
                e.backend,
                e.created,
                _size(e.size_bytes()),
                ", ".join(e.outputs),
            ]
            for e in entries
        ],
    )
    total = sum(entry.size_bytes() for entry in entries)
    click.echo(f"{len(entries)} result(s), {_size(total)}")


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@cache.command(name="show")
@click.argument("key")
@json_option
def cache_show(key: str, as_json: bool) -> None:
    """Show one cached result's record: step, backend, parameters, inputs, files."""
    from urvc_core.cache import StepCache

    details = StepCache().find(key).as_dict()
    if as_json:
        echo_json(details)
        return
    for name, value in details.items():
        if isinstance(value, dict):
            click.echo(f"{name}:")
            for sub_name, sub_value in value.items():
                click.echo(f"  {sub_name}: {json.dumps(sub_value, default=str)}")
        else:
            click.echo(f"{name}: {value}")


@cache.command(name="clear")
@click.option("--all", "clear_all", is_flag=True, help="Remove every cached result.")
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="Remove results not used for DAYS days.",
)
@json_option
def cache_clear(clear_all: bool, older_than: float | None, as_json: bool) -> None:
    """Remove cached results: all of them, or those not used for some days."""
    from urvc_core.cache import StepCache

    if clear_all == (older_than is not None):
        raise click.UsageError("Give either --all or --older-than DAYS.")
    report = StepCache().clear(older_than_days=older_than)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(
        f"Removed {report.removed} result(s), {_size(report.freed_bytes)}; kept {report.kept}."
    )


@cli.command()
@click.option(
    "--folder",
    type=click.Path(path_type=Path),
    help="Where the demo's files go (default: <urvc home>/demo).",
)
@click.option(
    "--assets-only", is_flag=True, help="Build the demo's files and print them; no cover."
)
@json_option
def demo(folder: Path | None, assets_only: bool, as_json: bool) -> None:
    """Make a cover offline, from an example song and a voice model urvc builds.

    The voice model has random weights: it shows the pipeline working, not a voice.
    """
    from urvc_core.demo import (
        DEMO_VOICE_NAME,
        build_demo_assets,
        demo_command,
        demo_cover_options,
        run_demo,
    )

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
    with _cover_bars() as bars:
        result = run_demo(folder, progress=bars)
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"Ran: {result.command}")
    _print_cover(result.cover)
    click.echo(
        f"\nThe voice is '{DEMO_VOICE_NAME}': a voice model urvc built with random "
        f"weights, so the cover sings the song's words and melody in a buzzing voice that "
        f"is nobody's. The song is a CMU ARCTIC sentence over a synthesized band."
    )
    click.echo(
        "With a real voice model: `urvc models download URL` (a .pth or .zip link), then "
        "`urvc cover song.mp3 -m NAME`."
    )


def main() -> None:
    """Entry point of the ``urvc`` script."""
    try:
        cli(prog_name="urvc")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
