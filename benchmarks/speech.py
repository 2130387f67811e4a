"""Speech: time per sentence of each TTS engine, and the real-time factor of ``speak``.

    .venv/bin/python benchmarks/speech.py [--sentences 20] [--engines edge]
                                          [--f0-method fcpe] [--work DIR]

The text is ``--sentences`` sentences of ordinary prose (about 60 characters each).
Each engine speaks them one at a time through :func:`urvc_core.speech.say` with an
empty cache (the time per sentence: the engine's own, plus urvc's split, cache and
join), then :func:`urvc_core.speech.speak` runs the whole chain — TTS, conversion with
a full-size RVC v2 40 kHz voice model and a full-size ContentVec-shaped embedder
(random weights, real arithmetic; built once under ``--work``), save — with an empty
cache, and again with another ``--pitch`` (the TTS steps then come from the cache).
The RTF is wall seconds per second of speech written.

The ``edge`` engine runs against :class:`urvc_core.testing.edge_service.EdgeService`
on 127.0.0.1 (this machine has no route to Microsoft's service): its time per sentence
is the client's own cost (a websocket, SSML, MP3 decoding), without the service's
latency, which a user adds on top (typically a few hundred ms per sentence).
"""

from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--engines", nargs="+", default=["edge"])
    parser.add_argument("--f0-method", default="fcpe")
    parser.add_argument("--work", type=Path, default=Path(".benchmarks/speech"))
    arguments = parser.parse_args()

    from conversion import build_assets

    from urvc_core.speech import say, speak, split_sentences
    from urvc_core.testing.edge_service import EdgeService

    text = " ".join(_PROSE[i % len(_PROSE)] for i in range(arguments.sentences))
    count = len(split_sentences(text))
    model, embedder = build_assets(arguments.work)
    with EdgeService() as service, tempfile.TemporaryDirectory() as scratch:
        os.environ["URVC_EDGE_TTS_SERVICE"] = service.url
        os.environ["URVC_HOME"] = str(Path(scratch) / "home")
        out = Path(scratch)
        print(f"{count} sentences, {len(text)} characters")
        for engine in arguments.engines:
            started = time.perf_counter()
            said = say(text, tts=engine, output=str(out / f"{engine}.wav"))
            seconds = time.perf_counter() - started
            print(
                f"{engine}: {seconds / count * 1000:.1f} ms per sentence "
                f"({said.speech_seconds:.1f} s of speech in {seconds:.2f} s)"
            )
        settings = {"embedder": str(embedder), "f0_method": arguments.f0_method}
        for label, pitch in (("speak, empty cache", 0), ("speak, TTS cached, new pitch", 3)):
            started = time.perf_counter()
            result = speak(
                text, model, output=str(out / f"speak{pitch}.wav"), pitch=pitch, **settings
            )
            seconds = time.perf_counter() - started
            steps = {}
            for step in result.steps:
                steps[step.name] = steps.get(step.name, 0.0) + step.seconds
            detail = ", ".join(f"{name} {value:.2f} s" for name, value in steps.items())
            print(
                f"{label}: {seconds:.2f} s for {result.duration:.1f} s of speech, "
                f"RTF {seconds / result.duration:.3f} ({detail})"
            )


if __name__ == "__main__":
    main()
