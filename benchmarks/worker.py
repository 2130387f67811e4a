"""What running a backend in a worker process costs (urvc_core.worker).

    .venv/bin/python benchmarks/worker.py [--seconds 180] [--calls 5] [--build]

With the test separator ``echo`` (its work is one multiplication, so what is measured is
the trip): the worker's start-up (a fresh process to its first answer), the time of a
``separate`` call on a song of ``--seconds`` at 44.1 kHz stereo in this process and
through the worker (median of ``--calls``), and the peak RSS of both processes. With
``--build``, also the time and size of building a worker environment from the
registries (numpy of the other major version, pluggy, pytest, urvc-core editable) in a
temporary urvc home.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time

import numpy as np

from urvc_core.backends import Audio
from urvc_core.testing import speech
from urvc_core.testing.worker_backends import EchoSeparator, EchoSeparatorInWorker


def peak_rss_mib(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed_calls(separate: object, song: Audio, calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        separate(song)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def build_figures() -> None:
    from urvc_core import worker_environments

    other = "numpy<2" if np.__version__.startswith("2.") else "numpy>=2,<3"
    with tempfile.TemporaryDirectory() as home:
        os.environ["URVC_HOME"] = home
        environment = worker_environments.WorkerEnvironment(
            name="urvc-benchmark",
            requirements=(other, "pytest"),
            sources=(worker_environments._required_source("urvc-core"),),
        )
        started = time.perf_counter()
        worker_environments.build_worker_environment(environment, lambda line: None)
        seconds = time.perf_counter() - started
        size = subprocess.run(
            ["du", "-sm", str(environment.folder)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        print(
            f"building a worker environment ({other}, pluggy, pytest, urvc-core -e): "
            f"{seconds:.1f} s, {size} MiB on disk (pip's cache warm)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--build", action="store_true")
    arguments = parser.parse_args()

    voice = speech(44100).samples
    frames = int(arguments.seconds * 44100)
    mono = np.tile(voice, int(np.ceil(frames / voice.shape[1])))[:, :frames]
    song = Audio(np.concatenate([mono, 0.5 * mono]), 44100)
    print(f"song: {arguments.seconds:g} s, 44.1 kHz stereo ({song.samples.nbytes / 2**20:.0f} MiB)")

    started = time.perf_counter()
    proxy = EchoSeparatorInWorker()
    worker_pid = proxy.pid()
    print(
        f"worker start-up (new process to its first answer): {time.perf_counter() - started:.3f} s"
    )
    started = time.perf_counter()
    proxy.pid()
    print(f"an empty call to a running worker: {1000 * (time.perf_counter() - started):.2f} ms")

    in_process = timed_calls(EchoSeparator().separate, song, arguments.calls)
    through_worker = timed_calls(proxy.separate, song, arguments.calls)
    print(
        f"separate, in this process: {in_process:.3f} s; through the worker: "
        f"{through_worker:.3f} s (+{through_worker - in_process:.3f} s, "
        f"{(through_worker - in_process) / arguments.seconds * 1000:.2f} ms per audio second)"
    )
    print(
        f"peak RSS: this process {peak_rss_mib():.0f} MiB, the worker "
        f"{peak_rss_mib(worker_pid):.0f} MiB"
    )
    proxy.close()
    if arguments.build:
        build_figures()


if __name__ == "__main__":
    main()
