"""Speech: text spoken by a TTS engine and converted into a voice model's voice.

:func:`speak` is ``urvc speak``: the text (given, or read from a file by
:mod:`urvc_core.text_files`) is split at sentence boundaries, each sentence spoken by
the engine as a cached step of its own, the pieces joined without clicks (a paragraph
gets a pause), the speech converted with RVC, optionally run through effects, and
written as one file. :func:`say` is ``urvc tts say``: the same without the conversion.

Every step goes through the :class:`~urvc_core.steps.StepRunner` the cover uses, so a
second run is served from the cache, and a run where one sentence changed speaks only
that one again. The output file appears whole or not at all: an engine failing in the
middle leaves nothing behind.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.backends import Audio, TTSEngine, TTSVoice
from urvc_core.errors import UrvcError
from urvc_core.speech_options import SpeechOptions
from urvc_core.steps import StemRef, StepProgress, StepReport, StepRunner

__all__ = [
    "Sentence",
    "SpeechResult",
    "join_speech",
    "list_tts_voices",
    "say",
    "speak",
    "split_sentences",
]

#: Sentences longer than this are split again at commas, then at spaces: an engine's
#: request stays short, and the cache keeps small pieces.
MAX_SENTENCE_CHARACTERS = 400
#: Each piece fades in and out over this long, so a join never jumps (a click).
_FADE_SECONDS = 0.005
# A sentence ends at . ! ? … (and their full-width forms) followed by space, where the
# word before is not a common abbreviation.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "no"}
    | {"fig", "approx", "dept", "est", "inc", "ltd"}
)


@dataclass(frozen=True)
class Sentence:
    """A piece of text the engine speaks in one request, and the silence after it."""

    text: str
    pause_after: float = 0.0


def split_sentences(
    text: str, *, paragraph_pause: float = 0.5, max_characters: int = MAX_SENTENCE_CHARACTERS
) -> list[Sentence]:
    """``text`` as sentences; a blank line ends a paragraph, which ``paragraph_pause``
    seconds of silence follow. Whitespace inside a sentence becomes single spaces."""
    sentences: list[Sentence] = []
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    for number, paragraph in enumerate(paragraphs, start=1):
        pieces = [
            short
            for sentence in _sentences_of(" ".join(paragraph.split()))
            for short in _shortened(sentence, max_characters)
        ]
        for index, piece in enumerate(pieces, start=1):
            last = index == len(pieces) and number < len(paragraphs)
            sentences.append(Sentence(piece, paragraph_pause if last else 0.0))
    return sentences


def _sentences_of(paragraph: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(paragraph):
        candidate = paragraph[start : end.start()]
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
        if last_word in _ABBREVIATIONS or len(last_word) == 1 or "." in last_word:
            continue  # "Dr. Smith", "J. Doe", "5 p.m. today": not a sentence's end
        sentences.append(candidate.strip())
        start = end.end()
    sentences.append(paragraph[start:].strip())
    return [s for s in sentences if s]


def _shortened(sentence: str, max_characters: int) -> list[str]:
    if len(sentence) <= max_characters:
        return [sentence]
    for separator in (", ", "; ", ": ", " "):
        cut = sentence.rfind(separator, 0, max_characters)
        if cut > 0:
            head = sentence[: cut + len(separator.rstrip())]
            return [head.strip(), *_shortened(sentence[cut + len(separator) :], max_characters)]
    return [sentence[:max_characters], *_shortened(sentence[max_characters:], max_characters)]


def join_speech(pieces: Sequence[Audio], pauses: Sequence[float] = ()) -> Audio:
    """The pieces one after the other, each faded in and out over 5 ms so that no join
    jumps, with ``pauses[i]`` seconds of silence after piece ``i``. Pieces at another
    rate than the first are resampled to it."""
    from urvc_core.audio import resample

    if not pieces:
        raise UrvcError("There is no speech to join.")
    rate = pieces[0].sample_rate
    fade = max(1, round(_FADE_SECONDS * rate))
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade, dtype=np.float64))).astype(np.float32)
    parts: list[np.ndarray] = []
    for index, piece in enumerate(pieces):
        mono = piece.to_mono()
        if mono.sample_rate != rate:
            mono = resample(mono, rate)
        samples = mono.samples[0].copy()
        edge = min(fade, samples.size // 2)
        if edge:
            samples[:edge] *= ramp[:edge]
            samples[samples.size - edge :] *= ramp[:edge][::-1]
        parts.append(samples)
        pause = pauses[index] if index < len(pauses) else 0.0
        if pause > 0:
            parts.append(np.zeros(round(pause * rate), dtype=np.float32))
    return Audio(np.concatenate(parts)[np.newaxis, :], rate)


@dataclass
class SpeechResult:
    """What :func:`speak` or :func:`say` made, and how."""

    output: Path
    engine: str
    tts_voice: str
    #: The voice model's name; ``None`` for :func:`say`, which converts nothing.
    voice: str | None
    sentences: int
    characters: int
    #: Length of the engine's speech, joined, before conversion.
    speech_seconds: float
    sample_rate: int
    duration: float
    steps: list[StepReport]
    seconds: float
    pitch_shift: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "engine": self.engine,
            "tts_voice": self.tts_voice,
            "voice": self.voice,
            "sentences": self.sentences,
            "characters": self.characters,
            "speech_seconds": round(self.speech_seconds, 4),
            "sample_rate": self.sample_rate,
            "duration": round(self.duration, 4),
            "pitch_shift": self.pitch_shift,
            "seconds": round(self.seconds, 4),
            "steps": [step.as_dict() for step in self.steps],
            "notes": self.notes,
        }


def speak(
    text: str | None,
    voice: str | Path,
    *,
    cache: Any = None,
    progress: StepProgress | None = None,
    **settings: Any,
) -> SpeechResult:
    """Speak ``text`` (or the file of ``text_file=``) in the voice of the model ``voice``.

    ``voice`` is a library name, a ``.pth`` path or a model URL, as for a cover.
    Keyword arguments are speech settings (:data:`~urvc_core.speech_options.SPEECH_SETTINGS`:
    ``tts="edge"``, ``tts_voice=``, ``tts_speed=``, ``tts_settings=("pitch=10",)``,
    ``output=``, ``effects=``...) and conversion settings (``pitch=12``,
    ``f0_method="rmvpe"``...). ``cache`` is a :class:`~urvc_core.cache.StepCache`,
    ``progress`` a :class:`~urvc_core.steps.StepProgress`.

    Raises:
        UrvcError: empty or unreadable text, an unknown engine, voice or setting, or an
            engine that failed; nothing is written then.
    """
    from urvc_core.devices import use_device

    options = SpeechOptions.from_settings(settings)
    with use_device(options.device):
        return _Speech(text, options, voice, cache=cache, progress=progress).run()


def say(
    text: str | None,
    *,
    cache: Any = None,
    progress: StepProgress | None = None,
    **settings: Any,
) -> SpeechResult:
    """Speak ``text`` (or the file of ``text_file=``) with a TTS engine alone, no
    conversion: the speech settings of :func:`speak` without conversion or effects."""
    options = SpeechOptions.from_settings(settings)
    if options.conversion or options.effects or options.effects_preset:
        given = [*options.conversion, *(["effects"] if options.effects else [])]
        given += ["effects_preset"] if options.effects_preset else []
        raise UrvcError(
            f"Saying text converts nothing and adds no effects ({', '.join(given)} given); "
            f"use speak for speech in a voice model's voice."
        )
    return _Speech(text, options, None, cache=cache, progress=progress).run()


def list_tts_voices(engine: str = "edge", **engine_settings: Any) -> list[TTSVoice]:
    """The voices of a TTS engine, with their locale and gender where the engine tells."""
    from urvc_core.registry import get_backend

    backend = get_backend("tts", engine, **engine_settings)
    assert isinstance(backend, TTSEngine)
    return backend.voice_details()


class _Speech:
    """One speech run: everything checked up front (a typo fails before any request)."""

    def __init__(
        self,
        text: str | None,
        options: SpeechOptions,
        voice: str | Path | None,
        *,
        cache: Any,
        progress: StepProgress | None,
    ) -> None:
        from urvc_core.effects import plan_effects
        from urvc_core.home import load_config
        from urvc_core.registry import get_backend
        from urvc_core.rvc.request import resolve_conversion

        self.options = options
        self.text = _text_to_speak(text, options.text_file)
        self.sentences = split_sentences(self.text, paragraph_pause=options.paragraph_pause)
        engine = get_backend("tts", options.tts, **options.engine_settings())
        assert isinstance(engine, TTSEngine)
        self.engine = engine
        self.tts_voice: str = options.tts_voice or getattr(engine, "default_voice", None) or ""
        config = load_config()
        self.request = (
            resolve_conversion(voice, options.conversion, defaults=config.convert)
            if voice is not None
            else None
        )
        self.effects = plan_effects(options.effects, options.effects_preset)
        self.output, self.output_format = self._destination(config)
        # Speech keeps its own rate (the voice model's, or the engine's for say) unless
        # one is asked for: resampling a 24 kHz voice to 44.1 kHz adds nothing.
        self.sample_rate: int | None = options.output_sample_rate
        self.runner = StepRunner(cache, refresh=options.refresh, progress=progress)

    def _destination(self, config: Any) -> tuple[Path, str]:
        from urvc_core.audio import WRITE_FORMATS, check_output_is_not_an_input, write_format_for
        from urvc_core.home import urvc_home

        options = self.options
        given = Path(options.output).expanduser() if options.output else None
        if given is not None and given.suffix.lower().lstrip(".") in WRITE_FORMATS:
            output_format = write_format_for(given, options.output_format)
            path = given.with_suffix(f".{output_format}")
        else:
            output_format = write_format_for(
                Path("speech"), options.output_format or str(config["output_format"])
            )
            folder = given if given is not None else urvc_home().outputs
            named = Path(options.text_file).stem if options.text_file else _name_of(self.text)
            if self.request is not None:
                named = f"{named} ({self.request.voice.name} Ver)"
            path = folder / f"{named}.{output_format}"
        check_output_is_not_an_input(path, [options.text_file])
        return path, output_format

    def run(self) -> SpeechResult:
        from urvc_core.audio import resample, save_audio

        started = time.perf_counter()
        runner = self.runner
        runner.progress.plan(
            len(self.sentences) + (self.request is not None) + bool(self.effects) + 1
        )
        self._check_voice()
        speech = join_speech(
            [self._spoken(sentence) for sentence in self.sentences],
            [sentence.pause_after for sentence in self.sentences],
        )
        stem = StemRef.of_audio(speech)
        notes: list[str] = []
        pitch_shift = 0.0
        if self.request is not None:
            from urvc_core.rvc.conversion import VoiceConverter
            from urvc_core.steps import conversion_step

            notes.extend(self.request.notes)
            request = self.request
            converted = conversion_step(runner, stem, lambda: VoiceConverter(request), request)
            pitch_shift = float(converted.extra.get("pitch_shift", self.request.settings.pitch))
            notes.extend(str(n) for n in converted.extra.get("notes", []) or [])
            stem = StemRef.of_entry(converted, "vocals")
        if self.effects:
            from urvc_core.steps import effects_step

            stem = StemRef.of_entry(effects_step(runner, stem, self.effects), "vocals")

        runner.progress.step("save")
        save_began, save_started = time.time(), time.perf_counter()
        audio = stem.load()
        if self.sample_rate is not None and audio.sample_rate != self.sample_rate:
            audio = resample(audio, self.sample_rate)
        written = save_audio(audio, self.output, format=self.output_format)
        runner.record(
            StepReport(
                "save",
                "none",
                time.perf_counter() - save_started,
                False,
                outputs={"speech": str(written)},
                started=save_began,
            )
        )
        return SpeechResult(
            output=written,
            engine=self.engine.name,
            tts_voice=self.tts_voice,
            voice=self.request.voice.name if self.request is not None else None,
            sentences=len(self.sentences),
            characters=len(self.text),
            speech_seconds=speech.duration,
            sample_rate=audio.sample_rate,
            duration=audio.duration,
            steps=runner.reports,
            seconds=time.perf_counter() - started,
            pitch_shift=pitch_shift,
            notes=notes,
        )

    def _check_voice(self) -> None:
        """The voice as the engine spells it, checked before any sentence is spoken.

        Where every sentence is cached under the name as given, the name was checked
        when they were spoken: asking the engine again would only cost time (a worker
        engine starts and loads its model to list its voices).
        """
        if not self.tts_voice:
            return
        if all(self.runner.is_cached(self._tts_key(s)) for s in self.sentences):
            return
        self.tts_voice = self.engine.check_voice(self.tts_voice)

    def _tts_step(self, sentence: Sentence) -> tuple[str, str, dict[str, Any]]:
        """The TTS step of a sentence: its backend, version and parameters."""
        from urvc_core.plugins import backend_version

        plugin, version = backend_version("tts", self.engine.name)
        parameters = {
            "text": sentence.text,
            "voice": self.tts_voice,
            "speed": self.options.tts_speed,
            "settings": dict(self.engine.options),
        }
        return self.engine.name, f"{plugin} {version}", parameters

    def _tts_key(self, sentence: Sentence) -> str:
        return self.runner.key("tts", *self._tts_step(sentence), {})

    def _spoken(self, sentence: Sentence) -> Audio:
        """One sentence, spoken by the engine or found in the cache."""
        from urvc_core.cache import StepResult

        engine, options = self.engine, self.options

        def compute(staging: Path) -> StepResult:
            audio = engine.synthesize(
                sentence.text, voice=self.tts_voice or None, speed=options.tts_speed
            )
            return StepResult(audio={"speech": audio})

        entry = self.runner.run("tts", *self._tts_step(sentence), {}, compute)
        return entry.audio("speech")


def _text_to_speak(text: str | None, text_file: str | None) -> str:
    from urvc_core.text_files import read_text_file

    if text is not None and text_file is not None:
        raise UrvcError("Give the text or a text file to speak, not both.")
    if text_file is not None:
        return read_text_file(text_file)
    if text is None or not text.strip():
        raise UrvcError("There is no text to speak: give some text, or a file with --text-file.")
    return text


def _name_of(text: str) -> str:
    """A file name from the text's first words."""
    words = re.findall(r"\w+", text)[:6]
    return "_".join(words)[:60] or "speech"
