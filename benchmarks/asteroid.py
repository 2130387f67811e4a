"""The asteroid separator (urvc-separator-asteroid) on a long song, in its worker.

    .venv/bin/python benchmarks/asteroid.py [--seconds 180] [--work .benchmarks/asteroid]

Builds (once, under ``--work``, which is its urvc home) the plugin's worker environment
from the registries and a ConvTasNet at the published DAMP-VSEP model's size (16 kHz,
2 sources) with random weights, saved with asteroid's ``serialize()``; then separates a
song of ``--seconds`` (speech and noise, 44.1 kHz stereo) twice through the proxy: the
first call starts the worker and loads torch, asteroid and the model, the second is
warm. Then the same separation runs in-process in the worker environment (the class
the worker serves, called directly, twice), so the proxy's overhead is the difference
of the warm calls. Prints the environment's build time and size, each call's time and
real-time factor, and the peak RSS of this process, the worker and the in-process run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time
from pathlib import Path

import numpy as np

#: Run in the worker environment: the worker's class called directly, twice.
IN_PROCESS = """
import resource, sys, time
import numpy as np
from urvc_core.backends import Audio
from urvc_separator_asteroid.torch_side import AsteroidInWorker
samples = np.load(sys.argv[1])
separator = AsteroidInWorker()
for call in ("first (loads the model)", "warm"):
    started = time.perf_counter()
    song, names = Audio(samples, 44100), ["Vocals", "Instrumental"]
    separator.separate_with_model(song, sys.argv[2], 16000, names)
    print(f"in-process, {call}: {time.perf_counter() - started:.1f} s")
print(f"in-process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--work", type=Path, default=Path(".benchmarks/asteroid"))
    arguments = parser.parse_args()
    home = arguments.work.resolve()
    os.environ["URVC_HOME"] = str(home)

    from isolated_separator import built_environment, long_song, worker_peak_mib
    from urvc_separator_asteroid.separator import AsteroidSeparator

    environment = built_environment("urvc-separator-asteroid")
    model = home / "random-models" / "convtasnet-damp-vsep.pth"
    if not model.exists():
        subprocess.run(
            [str(environment.python), "-m", "urvc_separator_asteroid.random_models", str(model)],
            check=True,
        )
    (home / "config.toml").write_text(f'[asset_paths]\nasteroid-convtasnet-damp-vsep = "{model}"\n')
    song = long_song(arguments.seconds)

    separator = AsteroidSeparator()
    for call in ("first (starts the worker, loads the model)", "warm"):
        started = time.perf_counter()
        separator.separate(song)
        seconds = time.perf_counter() - started
        rtf = seconds / arguments.seconds
        print(f"{arguments.seconds:g} s song, proxy, {call}: {seconds:.1f} s (RTF {rtf:.3f})")
    worker_peak = worker_peak_mib(separator)
    separator.close()
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: this process {main_peak:.0f} MiB, the worker {worker_peak:.0f} MiB")

    samples = home / "song.npy"
    np.save(samples, song.samples)
    subprocess.run(
        [str(environment.python), "-c", IN_PROCESS, str(samples), str(model)], check=True
    )
    samples.unlink()


if __name__ == "__main__":
    main()
