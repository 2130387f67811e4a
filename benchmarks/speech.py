"""Speech: time per sentence of each TTS engine, and the real-time factor of ``speak``.

    .venv/bin/python benchmarks/speech.py [--sentences 20] [--engines edge coqui]
                                          [--f0-method fcpe] [--work DIR]

The text is ``--sentences`` different sentences of ordinary prose (about 70 characters
each; none repeats, so none comes from the cache).
Each engine first says one short sentence (the first call: for coqui, the worker's
start and the model's load), then speaks the text through :func:`urvc_core.speech.say`
with an empty cache: the time per sentence is the engine's own plus urvc's split, cache
and join. Then :func:`urvc_core.speech.speak` runs the whole chain with that engine —
TTS, conversion with a full-size RVC v2 40 kHz voice model and a full-size
ContentVec-shaped embedder (random weights, real arithmetic; built once under
``--work``), save — with an empty cache, and again with another ``--pitch`` (the TTS
steps then come from the cache). The RTF is wall seconds per second of speech written.

``edge`` runs against :class:`urvc_core.testing.edge_service.EdgeService` on
127.0.0.1 (this machine has no route to Microsoft's service): its time per sentence is
the client's own cost (a websocket, SSML, MP3 decoding) without the service's latency,
which a user adds on top. ``coqui`` runs a full-size VITS (Coqui's published layers,
four speakers, random weights) built in the plugin's worker environment, which is built
under ``--work``'s home first if needed (minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

_PROSE = [
    "The morning train was late again, and the platform filled up slowly.",
    "She opened the window and listened to the rain on the roof.",
    "Nobody knew where the old map had come from, or who had drawn it.",
    "We walked along the river until the lights of the town were behind us.",
    "His voice was calm, but his hands would not stay still.",
]
# Each sentence is made unique by who says it: a repeated one would come from the cache.
_SPEAKERS = [
    "Alfa",
    "Bravo",
    "Charlie",
    "Delta",
    "Echo",
    "Foxtrot",
    "Golf",
    "Hotel",
    "India",
    "Juliett",
    "Kilo",
    "Lima",
    "Mike",
    "November",
    "Oscar",
    "Papa",
    "Quebec",
    "Romeo",
    "Sierra",
    "Tango",
    "Uniform",
    "Victor",
    "Whiskey",
    "Yankee",
    "Zulu",
]


def _coqui_model(work: Path) -> str:
    """A full-size VITS (Coqui's published layers, four speakers, random weights), built
    once in the plugin's environment."""
    from isolated_separator import built_environment

    environment = built_environment("urvc-tts-coqui")
    folder = work / "coqui-vits-full"
    if not (folder / "config.json").exists():
        subprocess.run(
            [
                str(environment.python),
                "-m",
                "urvc_tts_coqui.random_models",
                str(folder),
                "--full-size",
                "--speakers",
                "4",
            ],
            check=True,
            capture_output=True,
        )
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--engines", nargs="+", default=["edge", "coqui"])
    parser.add_argument("--f0-method", default="fcpe")
    parser.add_argument("--work", type=Path, default=Path(".benchmarks/speech"))
    arguments = parser.parse_args()

    from conversion import build_assets

    from urvc_core.cache import StepCache
    from urvc_core.speech import say, speak, split_sentences
    from urvc_core.testing.edge_service import EdgeService

    work = arguments.work.resolve()
    # A home of the benchmark's own, kept: the coqui environment is built once.
    os.environ["URVC_HOME"] = str(work / "home")
    text = " ".join(
        f"{_PROSE[i % len(_PROSE)][:-1]}, {_SPEAKERS[i % len(_SPEAKERS)]} said."
        for i in range(arguments.sentences)
    )
    count = len(split_sentences(text))
    model, embedder = build_assets(work)
    conversion = {"embedder": str(embedder), "f0_method": arguments.f0_method}
    with EdgeService() as service, tempfile.TemporaryDirectory() as scratch:
        os.environ["URVC_EDGE_TTS_SERVICE"] = service.url
        out = Path(scratch)
        print(f"{count} sentences, {len(text)} characters")
        for engine in arguments.engines:
            settings: dict[str, object] = {"tts": engine}
            if engine == "coqui":
                settings.update(tts_settings=(f"model={_coqui_model(work)}",), tts_voice="p226")
            cache = StepCache(out / f"cache-{engine}")
            started = time.perf_counter()
            say("Warm up.", output=str(out / "warm.wav"), cache=cache, **settings)
            first = time.perf_counter() - started
            started = time.perf_counter()
            said = say(text, output=str(out / f"{engine}.wav"), cache=cache, **settings)
            seconds = time.perf_counter() - started
            print(
                f"{engine}: first call {first:.2f} s; then {seconds / count * 1000:.0f} ms per "
                f"sentence ({said.speech_seconds:.1f} s of speech in {seconds:.2f} s, "
                f"RTF {seconds / said.speech_seconds:.3f})"
            )
            for label, pitch, fresh in (
                ("empty cache", 0, True),
                ("TTS cached, new pitch", 3, False),
            ):
                cache = StepCache(out / f"speak-{engine}") if fresh else cache
                started = time.perf_counter()
                result = speak(
                    text,
                    model,
                    output=str(out / f"speak-{engine}{pitch}.wav"),
                    pitch=pitch,
                    cache=cache,
                    **settings,
                    **conversion,
                )
                seconds = time.perf_counter() - started
                steps: dict[str, float] = {}
                for step in result.steps:
                    steps[step.name] = steps.get(step.name, 0.0) + step.seconds
                detail = ", ".join(f"{name} {value:.2f} s" for name, value in steps.items())
                print(
                    f"  speak with {engine}, {label}: {seconds:.2f} s for {result.duration:.1f} s "
                    f"of speech, RTF {seconds / result.duration:.3f} ({detail})"
                )


if __name__ == "__main__":
    main()
