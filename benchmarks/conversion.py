"""Real-time factor of ``convert_voice`` with full-size models, per f0 method and precision.

    .venv/bin/python benchmarks/conversion.py [--seconds 30 600] [--f0 fcpe harvest]
                                              [--precision fp32 bf16]

Builds (once, under ``--work``) a full-size v2 40k voice model and a full-size
ContentVec-shaped embedder, both with random weights (real sizes, real arithmetic), and
a speech-like input of each length (the ARCTIC sentence repeated). Models are loaded and
warmed before timing, as a user converting a batch would have them. Each configuration
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


def run_one(model: Path, embedder: Path, seconds: float, f0: str, precision: str) -> dict:
    import numpy as np

    from urvc_core.backends import Audio
    from urvc_core.rvc.conversion import VoiceConverter
    from urvc_core.rvc.settings import ConversionSettings
    from urvc_core.testing import speech

    sentence = speech().samples[0]
    repeats = int(np.ceil(seconds * 16000 / len(sentence)))
    audio = Audio(np.tile(sentence, repeats)[: int(seconds * 16000)], 16000)
    settings = ConversionSettings(f0_method=f0, precision=precision, embedder=str(embedder))
    started = time.perf_counter()
    converter = VoiceConverter(model, embedder=str(embedder), precision=precision)
    converter.convert(Audio(audio.samples[:, :32000], 16000), settings)  # load and warm up
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with StageMemory() as memory:
        result = converter.convert(audio, settings)
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "f0": f0,
        "precision": precision,
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
    parser.add_argument("--work", type=Path, default=Path(".benchmarks"))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process's single run
    arguments = parser.parse_args()
    model, embedder = build_assets(arguments.work)
    if arguments.one:
        seconds, f0, precision = arguments.one.split(":")
        print(json.dumps(run_one(model, embedder, float(seconds), f0, precision)))
        return
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    header = f"{'input':>6} {'f0':>10} {'prec':>5} {'RTF':>6}  per audio second: "
    print(
        header + "f0 / embedder / index / synthesizer / post   peak RSS   "
        "MiB per stage: f0 / embedder / synthesizer / post / rest"
    )
    peaks: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for seconds in arguments.seconds:
        for precision in arguments.precision:
            for f0 in arguments.f0:
                completed = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--work",
                        str(arguments.work),
                        "--one",
                        f"{seconds}:{f0}:{precision}",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = json.loads(completed.stdout.strip().splitlines()[-1])
                stages = row["stages"]
                per_stage = " / ".join(
                    f"{stages.get(k, 0.0):.3f}"
                    for k in ("f0", "embedder", "index", "synthesizer", "post")
                )
                memory = row["stage_peak_rss_mib"]
                per_stage_memory = " / ".join(
                    f"{memory.get(k, 0.0):.0f}"
                    for k in ("f0", "embedder", "synthesizer", "post", "rest")
                )
                print(
                    f"{seconds:>5.0f}s {f0:>10} {precision:>5} {row['rtf']:>6.3f}  {per_stage}"
                    f"   {row['peak_rss_mib']:.0f} MiB   {per_stage_memory}",
                    flush=True,
                )
                peaks.setdefault((f0, precision), []).append((seconds, row["peak_rss_mib"]))
    if len(arguments.seconds) > 1:
        print("peak RSS of the longest input against the shortest (the goal: within 10 %):")
        for (f0, precision), figures in peaks.items():
            (short, short_peak), (long, long_peak) = min(figures), max(figures)
            growth = 100 * (long_peak / short_peak - 1)
            print(
                f"  {f0:>10} {precision:>5}: {short:.0f} s {short_peak:.0f} MiB -> "
                f"{long:.0f} s {long_peak:.0f} MiB ({growth:+.1f} %)"
            )


if __name__ == "__main__":
    main()
