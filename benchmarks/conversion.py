"""Real-time factor of ``convert_voice`` with full-size models, per f0 method and precision.

    .venv/bin/python benchmarks/conversion.py [--seconds 30 600] [--f0 fcpe harvest]
                                              [--precision fp32 bf16] [--io file memory]

Builds (once, under ``--work``) a full-size v2 40k voice model and a full-size
ContentVec-shaped embedder, both with random weights (real sizes, real arithmetic), and
a speech-like input of each length (the ARCTIC sentence repeated). Models are loaded and
warmed before timing, as a user converting a batch would have them. ``--io file`` (the
default) converts as ``urvc convert song.wav -o out.wav`` does: the input a 44.1 kHz
stereo WAV, read and written a block at a time by ``convert_voice``; ``--io memory``
passes 16 kHz samples in and takes the output array back (``VoiceConverter.convert``,
the whole song in memory on both sides). Each configuration
runs in a fresh process, so its peak RSS is its own. Prints the real-time factor
(compute seconds per audio second), the time per stage, the peak RSS, and the peak RSS
within each stage (sampled every 5 ms from /proc while the stage runs; "rest" is
everything outside the named stages: resampling, chunk planning, the output buffer),
and, given several lengths, how much the longest input's peak exceeds the shortest's:
the chunked engine promises memory that stays flat in the song's length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def build_assets(work: Path) -> tuple[Path, Path]:
    from urvc_core.builtin.random_hubert_models import full_size_contentvec_folder
    from urvc_core.rvc.random_voice_models import build_voice_model_file

    work.mkdir(parents=True, exist_ok=True)
    model = work / "full-v2-40k.pth"
    embedder = work / "contentvec-full"
    if not model.exists():
        build_voice_model_file(model, version="v2", sample_rate=40000, size="full")
    if not (embedder / "config.json").exists():
        full_size_contentvec_folder(embedder)
    return model, embedder


class StageMemory:
    """Peak RSS per conversion stage: a sampler thread reads the resident set size while
    the converter's ``_timed`` blocks say which stage is running."""

    def __init__(self) -> None:
        import threading

        self.stage = "rest"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def rss_mib() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.note()

    def note(self) -> None:
        rss = self.rss_mib()
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), rss)

    def __enter__(self) -> StageMemory:
        from contextlib import contextmanager

        from urvc_core.rvc import conversion

        timed = conversion._timed
        memory = self

        @contextmanager
        def timed_and_sampled(timings: dict[str, float], stage: str):  # type: ignore[no-untyped-def]
            outer, memory.stage = memory.stage, stage
            memory.note()
            try:
                with timed(timings, stage):
                    yield
            finally:
                memory.note()
                memory.stage = outer

        conversion._timed = timed_and_sampled  # type: ignore[assignment]
        self._restore = (conversion, timed)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        module, timed = self._restore
        module._timed = timed  # type: ignore[attr-defined]


def speech_input(seconds: float) -> Any:
    """The ARCTIC sentence repeated to ``seconds``, at 16 kHz."""
    import numpy as np

    from urvc_core.backends import Audio
    from urvc_core.testing import speech

    sentence = speech().samples[0]
    repeats = int(np.ceil(seconds * 16000 / len(sentence)))
    return Audio(np.tile(sentence, repeats)[: int(seconds * 16000)], 16000)


def song_file(work: Path, seconds: float) -> Path:
    """The same input as a song file would be: 44.1 kHz stereo WAV (built once)."""
    import numpy as np

    from urvc_core.audio import resample, save_audio
    from urvc_core.backends import Audio

    path = work / f"input-{seconds:g}s-44k-stereo.wav"
    if not path.exists():
        mono = resample(speech_input(seconds), 44100).samples
        save_audio(Audio(np.concatenate([mono, 0.8 * mono]), 44100), path)
    return path


def run_one(
    model: Path, embedder: Path, seconds: float, f0: str, precision: str, io: str, work: Path
) -> dict:
    from urvc_core.backends import Audio
    from urvc_core.rvc.conversion import VoiceConverter, convert_voice
    from urvc_core.rvc.settings import ConversionSettings

    settings = ConversionSettings(f0_method=f0, precision=precision, embedder=str(embedder))
    started = time.perf_counter()
    converter = VoiceConverter(model, embedder=str(embedder), precision=precision)
    warm_up = speech_input(2.0)
    converter.convert(Audio(warm_up.samples, 16000), settings)  # load and warm up
    load_seconds = time.perf_counter() - started
    audio = speech_input(seconds) if io == "memory" else None
    source = song_file(work, seconds) if io == "file" else None
    started = time.perf_counter()
    with StageMemory() as memory:
        if source is None:
            result = converter.convert(audio, settings)
        else:
            result = convert_voice(
                source,
                model,
                output=work / "output.wav",
                converter=converter,
                **settings.as_dict(),
            )
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "f0": f0,
        "precision": precision,
        "io": io,
        "rtf": elapsed / seconds,
        "stages": {k: v / seconds for k, v in result.timings.items()},
        "load_and_warm_s": load_seconds,
        "peak_rss_mib": peak_mib,
        "stage_peak_rss_mib": memory.peaks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[30.0, 180.0])
    parser.add_argument("--f0", nargs="+", default=["fcpe", "harvest", "crepe-tiny", "pm"])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--io", nargs="+", choices=["file", "memory"], default=["file"])
    parser.add_argument("--work", type=Path, default=Path(".benchmarks"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process's single run
    arguments = parser.parse_args()
    model, embedder = build_assets(arguments.work)
    if arguments.one:
        seconds, f0, precision, io = arguments.one.split(":")
        row = run_one(model, embedder, float(seconds), f0, precision, io, arguments.work)
        print(json.dumps(row))
        return
    for seconds in arguments.seconds:
        song_file(arguments.work, seconds)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    header = f"{'input':>6} {'io':>6} {'f0':>10} {'prec':>5} {'RTF':>6}  per audio second: "
    print(
        header + "f0 / embedder / index / synthesizer / post   peak RSS   "
        "MiB per stage: f0 / embedder / synthesizer / post / rest"
    )
    peaks: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    configurations = [
        (seconds, io, precision, f0)
        for seconds in arguments.seconds
        for io in arguments.io
        for precision in arguments.precision
        for f0 in arguments.f0
    ]
    for seconds, io, precision, f0 in configurations:
        completed = subprocess.run(
            [
                sys.executable,
                __file__,
                "--work",
                str(arguments.work),
                "--one",
                f"{seconds}:{f0}:{precision}:{io}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        stages = row["stages"]
        per_stage = " / ".join(
            f"{stages.get(k, 0.0):.3f}" for k in ("f0", "embedder", "index", "synthesizer", "post")
        )
        memory = row["stage_peak_rss_mib"]
        per_stage_memory = " / ".join(
            f"{memory.get(k, 0.0):.0f}" for k in ("f0", "embedder", "synthesizer", "post", "rest")
        )
        print(
            f"{seconds:>5.0f}s {io:>6} {f0:>10} {precision:>5} {row['rtf']:>6.3f}  "
            f"{per_stage}"
            f"   {row['peak_rss_mib']:.0f} MiB   {per_stage_memory}",
            flush=True,
        )
        # The process's peak may come while the models load (bf16 weights are made from
        # fp32 ones); the conversion's own is the highest of its stages.
        converting = max(memory.values())
        peaks.setdefault((io, f0, precision), []).append((seconds, row["peak_rss_mib"], converting))
    if len(arguments.seconds) > 1:
        print(
            "peak RSS of the longest input against the shortest (the goal: within 10 %), "
            "the process's and while converting:"
        )
        for (io, f0, precision), figures in peaks.items():
            (short, short_peak, short_run), (long, long_peak, long_run) = min(figures), max(figures)
            print(
                f"  {io:>6} {f0:>10} {precision:>5}: {short:.0f} s {short_peak:.0f} MiB -> "
                f"{long:.0f} s {long_peak:.0f} MiB ({100 * (long_peak / short_peak - 1):+.1f} %); "
                f"converting {short_run:.0f} -> {long_run:.0f} MiB "
                f"({100 * (long_run / short_run - 1):+.1f} %)"
            )


if __name__ == "__main__":
    main()
