"""``urvc speak`` and ``urvc tts``: text spoken by a TTS engine, in a voice model's voice
or as it is. Thin layers over :func:`urvc_core.speech.speak`, :func:`~urvc_core.speech.say`
and :func:`~urvc_core.speech.list_tts_voices`."""

from __future__ import annotations

from typing import Any

import click

from urvc_core.cli.cover import cover_bars, print_steps
from urvc_core.cli.options import conversion_options, setting_options
from urvc_core.console import echo_json, echo_table, json_option
from urvc_core.speech_options import DEFAULT_TTS_ENGINE, SPEECH_SETTINGS

#: What `urvc tts say` takes of the speech options: no conversion, no effects.
_SAY_SETTINGS = (
    "text_file",
    "tts",
    "tts_voice",
    "tts_speed",
    "tts_settings",
    "paragraph_pause",
    "output",
    "output_format",
    "output_sample_rate",
    "refresh",
)


@click.command()
@click.argument("text", required=False)
@click.option(
    "-m",
    "--model",
    required=True,
    help="Voice model: a library name, a .pth path, or a .pth/.zip URL (downloaded once).",
)
@setting_options(SPEECH_SETTINGS)
@conversion_options
@json_option
def speak(text: str | None, model: str, as_json: bool, **settings: Any) -> None:
    """Speak TEXT (or --text-file) with a TTS engine, in the voice of an RVC model.

    The text is split into sentences, each spoken by the engine (--tts, default edge),
    joined, converted like `urvc convert` (every conversion option applies), given
    effects (-e) and written to one file. Every step is cached: a second run with
    another --pitch speaks nothing again.
    """
    from urvc_core.speech import speak as speak_text

    with cover_bars("speak") as bars:
        result = speak_text(text, model, progress=bars, **settings)
    _print_speech(result, as_json)


@click.group()
def tts() -> None:
    """Text-to-speech engines: their voices, and speech without conversion."""


@tts.command(name="voices")
@click.option(
    "--engine",
    default=DEFAULT_TTS_ENGINE,
    show_default=True,
    help="The TTS engine (`urvc backends tts` lists those installed).",
)
@click.option(
    "--tts-setting",
    "engine_settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A setting of the engine, e.g. model=FOLDER for coqui. Repeatable.",
)
@click.option("--locale", help="Only voices whose locale starts with this (en, en-GB...).")
@json_option
def voices(
    engine: str, engine_settings: tuple[str, ...], locale: str | None, as_json: bool
) -> None:
    """List the voices of a TTS engine, with their locale and gender."""
    from urvc_core.speech import list_tts_voices
    from urvc_core.speech_options import parse_tts_settings

    found = list_tts_voices(engine, **parse_tts_settings(engine_settings))
    if locale:
        found = [v for v in found if v.locale.lower().startswith(locale.lower())]
    if as_json:
        echo_json([voice.as_dict() for voice in found])
        return
    echo_table(
        ["voice", "locale", "gender", "description"],
        [[v.name, v.locale, v.gender, v.description] for v in found],
    )


@tts.command(name="say")
@click.argument("text", required=False)
@setting_options(SPEECH_SETTINGS, _SAY_SETTINGS)
@json_option
def say(text: str | None, as_json: bool, **settings: Any) -> None:
    """Speak TEXT (or --text-file) with a TTS engine alone, and write it to a file."""
    from urvc_core.speech import say as say_text

    with cover_bars("say") as bars:
        result = say_text(text, progress=bars, **settings)
    _print_speech(result, as_json)


def _print_speech(result: Any, as_json: bool) -> None:
    if as_json:
        echo_json(result.as_dict())
        return
    for note in result.notes:
        click.echo(note, err=True)
    print_steps(result.steps)
    voice = f"; voice {result.voice}, pitch {result.pitch_shift:+g}" if result.voice else ""
    click.echo(
        f"{result.engine} ({result.tts_voice or 'default voice'}): {result.sentences} "
        f"sentence(s), {result.speech_seconds:.1f} s of speech{voice}"
    )
    click.echo(f"{result.seconds:.1f} s")
    click.echo(f"Speech: {result.output}")
