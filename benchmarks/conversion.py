"""Real-time factor of ``convert_voice`` with full-size models, per f0 method and precision.

    .venv/bin/python benchmarks/conversion.py [--seconds 30 180] [--f0 fcpe harvest]
                                              [--precision fp32 bf16]

Builds (once, under ``--work``) a full-size v2 40k voice model and a full-size
ContentVec-shaped embedder, both with random weights (real sizes, real arithmetic), and
a speech-like input of each length (the ARCTIC sentence repeated). Models are loaded and
warmed before timing, as a user converting a batch would have them. Each configuration
runs in a fresh process, so its peak RSS is its own. Prints the real-time factor
(compute seconds per audio second), the time per stage and the peak RSS.
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
    print(header + "f0 / embedder / index / synthesizer / post   peak RSS")
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
                print(
                    f"{seconds:>5.0f}s {f0:>10} {precision:>5} {row['rtf']:>6.3f}  {per_stage}"
                    f"   {row['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
