"""RMVPE's speed and memory: real-time factor and peak RSS on 30 s and 3 min of audio.

    .venv/bin/python benchmarks/rmvpe.py [--durations 30 180] [--runs 2]
        [--segment-seconds 30] [--device cpu] [--precision fp32]
        [--runtime torch|onnxruntime] [--threads N]

Runs the ``rmvpe`` backend of the urvc-f0-rmvpe plugin exactly as the engine does
(``extract_f0`` on 16 kHz audio, hop 160), with the full-size network and random
weights saved as ``rmvpe.pt`` is (the real weights compute the same number of
operations). Each duration is measured in a fresh process, so its peak RSS is its
own: the process loads the network, warms up on one second of audio, then extracts
pitch ``--runs`` times. The real-time factor is seconds of computing per second of
audio (below 1 is faster than real time); the best run is reported, as the other
processes on a shared machine only ever slow a run down. ``--threads`` sets torch's
thread count, which ONNX Runtime follows too; by default, one per core. With
``--runtime onnxruntime`` the one-time ONNX export happens before the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


def vocal_like_audio(seconds: float) -> np.ndarray:
    """Speech and sung-like tones, repeated to ``seconds``: what a vocal track holds."""
    from urvc_core.testing import signals

    pieces = [
        signals.speech(SAMPLE_RATE).samples[0],
        signals.vibrato(220.0, duration=2.0, sample_rate=SAMPLE_RATE).audio.samples[0],
        signals.silence(0.5, SAMPLE_RATE).samples[0],
        signals.sweep(110.0, 660.0, 3.0, SAMPLE_RATE).audio.samples[0],
    ]
    one_round = np.concatenate(pieces)
    count = round(seconds * SAMPLE_RATE)
    repeats = -(-count // len(one_round))
    return np.tile(one_round, repeats)[:count].astype(np.float32)


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def measure(arguments: argparse.Namespace) -> dict[str, float]:
    """In the child process: time extract_f0 on ``arguments.seconds`` of audio."""
    import torch

    from urvc_core import F0Extractor, get_backend

    if arguments.threads:
        torch.set_num_threads(arguments.threads)  # ONNX Runtime follows it too
    audio = vocal_like_audio(arguments.seconds)
    backend = get_backend(
        "f0",
        "rmvpe",
        device=arguments.device,
        precision=arguments.precision,
        segment_seconds=arguments.segment_seconds,
        runtime=arguments.runtime,
    )
    assert isinstance(backend, F0Extractor)
    backend.extract_f0(vocal_like_audio(1.0), SAMPLE_RATE)
    loaded_rss = peak_rss_mb()
    timings = []
    for _ in range(arguments.runs):
        if arguments.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        f0 = backend.extract_f0(audio, SAMPLE_RATE)
        if arguments.device == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    assert len(f0) == len(audio) // 160 + 1
    result = {
        "seconds": arguments.seconds,
        "best_s": min(timings),
        "worst_s": max(timings),
        "rtf": min(timings) / arguments.seconds,
        "rss_after_load_mb": loaded_rss,
        "peak_rss_mb": peak_rss_mb(),
        "torch_threads": torch.get_num_threads(),
    }
    if arguments.device == "cuda":
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def run_child(arguments: argparse.Namespace, seconds: float, home: Path) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--seconds", str(seconds),
        "--runs", str(arguments.runs),
        "--segment-seconds", str(arguments.segment_seconds),
        "--device", arguments.device,
        "--precision", arguments.precision,
        "--runtime", arguments.runtime,
        "--threads", str(arguments.threads),
    ]
    environment = {**os.environ, "URVC_HOME": str(home), "URVC_OFFLINE": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0:
        raise SystemExit(f"the measurement of {seconds:g} s failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[30.0, 180.0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--segment-seconds", type=float, default=30.0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16"))
    parser.add_argument("--runtime", default="torch", choices=("torch", "onnxruntime"))
    parser.add_argument("--threads", type=int, default=0, help="0: the runtime's default")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments)))
        return

    from urvc_f0_rmvpe.testing import write_random_weights

    with tempfile.TemporaryDirectory(prefix="urvc-rmvpe-bench-") as folder:
        home = Path(folder)
        weights = write_random_weights(home / "assets" / "rmvpe" / "rmvpe.pt")
        threads = arguments.threads or "default"
        print(
            f"rmvpe, full-size network with random weights ({weights.stat().st_size / 1e6:.0f} MB "
            f"file), {arguments.runtime} on {arguments.device} {arguments.precision}, "
            f"{threads} threads, segments of {arguments.segment_seconds:g} s, best of "
            f"{arguments.runs}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        if arguments.runtime == "onnxruntime":
            started = time.perf_counter()
            run_child(arguments, 1.0, home)
            print(f"one-time ONNX export and first run: {time.perf_counter() - started:.1f} s")
        print(
            f"{'audio':>7} {'best s':>8} {'worst s':>8} {'RTF':>6} "
            f"{'RSS loaded MB':>14} {'peak RSS MB':>12}"
        )
        for seconds in arguments.durations:
            result = run_child(arguments, seconds, home)
            extra = f" {result['peak_gpu_mb']:>10.0f} GPU MB" if "peak_gpu_mb" in result else ""
            print(
                f"{seconds:>6g}s {result['best_s']:>8.2f} {result['worst_s']:>8.2f} "
                f"{result['rtf']:>6.3f} {result['rss_after_load_mb']:>14.0f} "
                f"{result['peak_rss_mb']:>12.0f}{extra}",
                flush=True,
            )
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
