"""``urvc effects ...`` and ``urvc pitch-shift``: thin layers over the library functions.

A :class:`~urvc_core.errors.UrvcError` raised here reaches the ``urvc`` group, which
prints it as ``Error: ...`` and exits with code 1.
"""

from __future__ import annotations

from pathlib import Path

import click

from urvc_core.console import echo_json, progress_bar

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
effect_option = click.option(
    "-e",
    "--effect",
    "effect_specs",
    multiple=True,
    metavar="SPEC",
    help="An effect, NAME or NAME:SETTING=VALUE,... (e.g. reverb:room_size=0.3); "
    "repeat for a chain, applied in order.",
)


@click.group(name="effects")
def effects_group() -> None:
    """Mix effects (pedalboard), effect chains and presets."""


@effects_group.command(name="list")
@json_option
def effects_list(as_json: bool) -> None:
    """List effects with their settings, ranges and units.

    Every installed effect is listed, this plugin's and others', since a chain can
    use any of them.
    """
    from urvc_effects_pedalboard.chains import list_effects

    infos = list_effects()
    if as_json:
        echo_json([info.as_dict() for info in infos])
        return
    for info in infos:
        click.echo(f"{info.name}  ({info.plugin}) {info.backend_class.description}")
        for setting in info.backend_class.settings:
            allowed = (
                ", ".join(str(c) for c in setting.choices)
                if setting.choices is not None
                else setting.describe_range()
            )
            if setting.type is bool:
                allowed = "true or false"
            elif setting.type is str and setting.choices is None:
                allowed = "text"
            unit = f" {setting.unit}" if setting.unit else ""
            default = "none" if setting.default is None else f"{setting.default}{unit}"
            click.echo(
                f"  {setting.name}: {setting.help} "
                f"[{setting.type.__name__}, {allowed}, default {default}]"
            )


@effects_group.command(name="presets")
@json_option
def effects_presets(as_json: bool) -> None:
    """List effect presets: every plugin's, built-in and saved, with their chains."""
    from urvc_core.effects import list_effect_presets
    from urvc_effects_pedalboard.presets import list_presets

    # Read first: a broken saved preset is an error that names its file.
    own = {preset.name: preset for preset in list_presets()}
    registered = list_effect_presets()
    if as_json:
        listed = []
        for preset, plugin in registered:
            mine = own.get(preset.name)
            listed.append(
                {
                    **preset.as_dict(),
                    "plugin": plugin,
                    "source": mine.source if mine else "plugin",
                    "path": str(mine.path) if mine and mine.path else None,
                }
            )
        echo_json(listed)
        return
    for preset, plugin in registered:
        mine = own.get(preset.name)
        where = f"{mine.source}{f' {mine.path}' if mine.path else ''}, " if mine else ""
        click.echo(f"{preset.name}  ({where}{plugin}) {preset.description}")
        click.echo("  " + " -> ".join(preset.specs()))


@effects_group.command(name="save-preset")
@click.argument("name")
@effect_option
@click.option("-p", "--preset", help="Start from this preset (a name or a .toml file).")
@click.option("-d", "--description", default=None, help="One line saying what it is for.")
@click.option("--overwrite", is_flag=True, help="Replace a preset of the same name.")
def effects_save_preset(
    name: str,
    effect_specs: tuple[str, ...],
    preset: str | None,
    description: str | None,
    overwrite: bool,
) -> None:
    """Save a chain of effects as a preset.

    It is kept as NAME.toml in the urvc home's presets/effects folder and used with
    `--preset NAME`.
    """
    import dataclasses

    from urvc_effects_pedalboard.chains import load_chain
    from urvc_effects_pedalboard.presets import save_preset

    chain = load_chain(preset, effect_specs)
    if description is not None:
        chain = dataclasses.replace(chain, description=description)
    click.echo(str(save_preset(name, chain, overwrite=overwrite)))


@effects_group.command(name="apply")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-p", "--preset", help="A preset name (`urvc effects presets`) or .toml file.")
@effect_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="The file to write (wav, flac, ogg or mp3, from its suffix).",
)
def effects_apply(
    source: Path, preset: str | None, effect_specs: tuple[str, ...], output: Path
) -> None:
    """Apply a preset or effects to a file.

    SOURCE runs through the effects in order and the result is written to --output,
    which appears only once complete. With both --preset and --effect, the preset's
    effects come first.
    """
    from urvc_effects_pedalboard.chains import apply_chain_to_file, load_chain

    chain = load_chain(preset, effect_specs)
    with progress_bar(source.name) as update:
        written = apply_chain_to_file(source, chain, output, progress=update)
    click.echo(str(written))


@click.command(name="pitch-shift")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-s",
    "--semitones",
    required=True,
    type=float,
    help="How far to shift: 12 is an octave up, -12 down (-24 to 24).",
)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(path_type=Path),
    help="Folder for the results, named NAME_pitch+N (default: the urvc outputs folder).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Files shifted at once, each in its own process (default: one per CPU).",
)
@click.option(
    "--preserve-formants",
    is_flag=True,
    help="Keep a voice's timbre in place (for vocals; leave off for instruments).",
)
@json_option
def pitch_shift_command(
    files: tuple[Path, ...],
    semitones: float,
    output_dir: Path | None,
    jobs: int | None,
    preserve_formants: bool,
    as_json: bool,
) -> None:
    """Shift the pitch of whole tracks by semitones, keeping their length.

    For a cover: shift the instrumental and backing vocals by the lead vocal's shift.
    """
    from urvc_effects_pedalboard.pitch import pitch_shift_files

    with progress_bar("pitch-shift") as update:
        written = pitch_shift_files(
            list(files),
            semitones,
            output_dir,
            workers=jobs,
            preserve_formants=preserve_formants,
            progress=update,
        )
    if as_json:
        echo_json([str(path) for path in written])
        return
    for path in written:
        click.echo(str(path))


def add_commands(cli: click.Group) -> None:
    cli.add_command(effects_group)
    cli.add_command(pitch_shift_command)
