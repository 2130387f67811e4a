"""How fast the RVC synthesizer runs, in fp32 and bf16, and how far bf16 strays.

    .venv/bin/python benchmarks/synthesizer.py [--seconds 10] [--runs 3] [--threads N]

A full-size v2 40 kHz model (RVC's own configuration, random weights, saved and loaded
as a community file) synthesizes ``--seconds`` of audio from random features and a
gliding pitch. Each precision runs in a fresh child process, so its peak RSS is its
own: the loaded model, the activations, and torch itself (``import torch`` alone is
listed for scale). Time is the best of ``--runs`` after one warm-up run, in seconds of
computing per second of audio (below 1 is faster than real time), wall-clock and CPU
(all threads together; on a machine others are busy on, the steadier of the two).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PRECISIONS = ("fp32", "bf16")


def measure(
    model_path: Path, precision: str, seconds: float, runs: int, out: Path
) -> dict[str, Any]:
    """Run in the child: load, warm up, time, save the audio; returns the figures."""
    import torch

    from urvc_core.rvc.voice_model import VoiceModel

    baseline_rss = _peak_rss_mib()
    start = time.perf_counter()
    model = VoiceModel.load(model_path, precision=precision)
    load_seconds = time.perf_counter() - start
    frames = round(seconds * 100)
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(frames, model.info.embedder_dim, generator=generator)
    pitch = 160 + 60 * torch.sin(torch.arange(frames, dtype=torch.float32) / 40)
    pitch[frames // 4 : frames // 4 + 30] = 0
    model.synthesize(features, pitch)  # warm-up: oneDNN builds its kernels on first use
    timings, cpu_times = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        audio = model.synthesize(features, pitch)
        timings.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    torch.save(audio, out)
    return {
        "precision": precision,
        "load_s": load_seconds,
        "best_s": min(timings),
        "median_s": sorted(timings)[len(timings) // 2],
        "cpu_s": min(cpu_times),
        "audio_s": len(audio) / model.info.sample_rate,
        "peak_rss_mib": _peak_rss_mib(),
        "torch_rss_mib": baseline_rss,
        "threads": torch.get_num_threads(),
    }


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: torch's own")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "PRECISION", "OUT"))
    arguments = parser.parse_args()
    if arguments.threads:
        import torch

        torch.set_num_threads(arguments.threads)
    if arguments.child:
        model, precision, out = arguments.child
        figures = measure(Path(model), precision, arguments.seconds, arguments.runs, Path(out))
        print(json.dumps(figures))
        return

    import torch

    from urvc_core.rvc.random_voice_models import build_voice_model_file

    with tempfile.TemporaryDirectory() as folder:
        model_path = build_voice_model_file(
            Path(folder) / "full-v2-40k.pth", size="full", fp16=True, speakers=109
        )
        results: dict[str, dict[str, Any]] = {}
        for precision in PRECISIONS:
            out = Path(folder) / f"{precision}.pt"
            command = [
                sys.executable,
                __file__,
                "--seconds",
                str(arguments.seconds),
                "--runs",
                str(arguments.runs),
                "--threads",
                str(arguments.threads),
                "--child",
                str(model_path),
                precision,
                str(out),
            ]
            completed = subprocess.run(command, capture_output=True, text=True, check=True)
            results[precision] = json.loads(completed.stdout.strip().splitlines()[-1])
            results[precision]["audio"] = torch.load(out, weights_only=True)

    reference = results["fp32"]["audio"]
    cpu = _cpu_name()
    print(
        f"full-size v2 40 kHz model, {arguments.seconds:g} s of audio, best of {arguments.runs}; "
        f"torch {torch.__version__}, {results['fp32']['threads']} threads, {cpu}"
    )
    print(
        f"{'precision':<10} {'s / audio s':>12} {'x real time':>12} {'CPU s / audio s':>16} "
        f"{'load s':>8} {'SNR vs fp32':>12} {'peak RSS MiB':>13}"
    )
    for precision, figures in results.items():
        per_second = figures["best_s"] / figures["audio_s"]
        if precision == "fp32":
            snr = "-"
        else:
            error = (figures["audio"] - reference).pow(2).sum()
            snr = f"{10 * math.log10(float(reference.pow(2).sum() / error)):.1f} dB"
        print(
            f"{precision:<10} {per_second:>12.3f} {1 / per_second:>12.1f} "
            f"{figures['cpu_s'] / figures['audio_s']:>16.3f} {figures['load_s']:>8.2f} "
            f"{snr:>12} {figures['peak_rss_mib']:>13.0f}"
        )
    print(f"(load average over the last minute: {os.getloadavg()[0]:.1f})")
    print(
        f"(torch and urvc imported, no model: {results['fp32']['torch_rss_mib']:.0f} MiB peak RSS)"
    )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f", {os.cpu_count()} CPUs"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
