"""The spleeter separator (urvc-separator-spleeter) on a long song, in its worker.

    .venv/bin/python benchmarks/spleeter.py [--seconds 180] [--work .benchmarks/spleeter]

Builds (once, under ``--work``, which is its urvc home) the plugin's worker environment
from the registries and a full-size 2-stem spleeter model with random weights in
spleeter's checkpoint layout; then separates a song of ``--seconds`` (speech and noise,
44.1 kHz stereo) twice: the first call starts the worker and loads TensorFlow and the
model, the second is warm. Prints the environment's build time and size, both calls'
times, the real-time factor, and the peak RSS of this process and of the worker.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--work", type=Path, default=Path(".benchmarks/spleeter"))
    arguments = parser.parse_args()
    home = arguments.work.resolve()
    os.environ["URVC_HOME"] = str(home)

    from isolated_separator import built_environment, long_song, worker_peak_mib
    from urvc_separator_spleeter.separator import SpleeterSeparator

    environment = built_environment("urvc-separator-spleeter")
    model = home / "random-models" / "2stems"
    if not (model / "checkpoint").exists():
        subprocess.run(
            [str(environment.python), "-m", "urvc_separator_spleeter.random_models", str(model)],
            check=True,
        )
    (home / "config.toml").write_text(f'[asset_paths]\nspleeter-2stems = "{model}"\n')
    song = long_song(arguments.seconds)

    separator = SpleeterSeparator(stems=2)
    for call in ("first (starts the worker, loads the model)", "warm"):
        started = time.perf_counter()
        separator.separate(song)
        seconds = time.perf_counter() - started
        rtf = seconds / arguments.seconds
        print(f"{arguments.seconds:g} s song, {call}: {seconds:.1f} s (RTF {rtf:.3f})")
    worker_peak = worker_peak_mib(separator)
    separator.close()
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: this process {main_peak:.0f} MiB, the worker {worker_peak:.0f} MiB")


if __name__ == "__main__":
    main()
