"""What benchmarks of a separator in its own environment share (spleeter.py, asteroid.py).

Not a benchmark itself: building the plugin's worker environment and saying what it
cost, the long test song, and a worker's peak RSS.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import numpy as np

from urvc_core.backends import Audio
from urvc_core.testing import speech
from urvc_core.worker_environments import (
    WorkerEnvironment,
    build_worker_environment,
    declared_worker_environments,
)


def built_environment(plugin: str) -> WorkerEnvironment:
    """The plugin's worker environment, built if needed; prints its build time and size."""
    (environment,) = declared_worker_environments([plugin])
    started = time.perf_counter()
    built = build_worker_environment(environment, lambda line: None)
    size = subprocess.run(
        ["du", "-sm", str(environment.folder)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    took = f"built in {time.perf_counter() - started:.0f} s" if built else "already built"
    print(f"worker environment: {took}, {size} MiB on disk")
    return environment


def long_song(seconds: float, rate: int = 44100) -> Audio:
    """The ARCTIC sentence repeated, panned slightly left, over noise: stereo at ``rate``."""
    voice = speech(rate).samples[0]
    frames = int(seconds * rate)
    speech_track = np.tile(voice, int(np.ceil(frames / len(voice))))[:frames]
    noise = 0.05 * np.random.default_rng(0).standard_normal((2, frames))
    return Audio((np.stack([speech_track, 0.8 * speech_track]) + noise).astype(np.float32), rate)


def worker_peak_mib(backend: Any) -> float:
    """The peak RSS (VmHWM) of a worker backend's running worker, in MiB."""
    worker = backend._worker
    if worker is None:
        return float("nan")
    with open(f"/proc/{worker.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
