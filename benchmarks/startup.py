"""How long the ``urvc`` command takes to start, and whether it imports torch.

    .venv/bin/python benchmarks/startup.py [--runs 20]

Times whole processes (``urvc --help``, ``urvc backends``, ``urvc --version``), the way a
user waits for them, and compares with a bare ``python -c pass`` and with ``import torch``
so the figures have a scale.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

URVC = str(Path(sys.executable).with_name("urvc"))

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "urvc --version": [URVC, "--version"],
    "urvc --help": [URVC, "--help"],
    "urvc backends": [URVC, "backends"],
    "urvc plugins list": [URVC, "plugins", "list"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}


def time_command(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    arguments = parser.parse_args()
    print(f"{'command':<28} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for label, command in COMMANDS.items():
        seconds = time_command(command, arguments.runs)
        print(
            f"{label:<28} {statistics.median(seconds) * 1000:>10.0f} "
            f"{min(seconds) * 1000:>8.0f} {max(seconds) * 1000:>8.0f}"
        )


if __name__ == "__main__":
    main()
