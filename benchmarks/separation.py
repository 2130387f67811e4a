"""Speed and peak memory of the UVR-family separators (urvc-separator-mdx) on long songs.

    .venv/bin/python benchmarks/separation.py [--minutes 1 5 10] [--family mdx]

No real weights can be downloaded here, so it runs the tiny models the plugin's tests
use (``urvc_separator_mdx.tiny_models``) through the real path: urvc's file handoff,
audio-separator's loading, segmenting and overlap-add. The compute of a real model is
far larger, but the audio buffers, which are what grows with a song's length, are the
same. Each length runs in a fresh process so that its peak resident memory is its own;
"per minute" is the slope between the shortest and longest song.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = {"mdx": "tiny_centre_mdx.onnx", "mdxc": "tiny_bs_roformer.ckpt"}


def run_one(home: Path, family: str, minutes: float) -> dict[str, float]:
    """Separate ``minutes`` of stereo 44.1 kHz audio in a child process; its measurements."""
    child = f"""
import json, os, resource, sys, time
import numpy as np
os.environ["URVC_HOME"] = {str(home)!r}
os.environ["URVC_OFFLINE"] = "1"
from urvc_core.backends import Audio
from urvc_core.testing import signals
from urvc_separator_mdx.cover_steps import separator_for

separator = separator_for({MODELS[family]!r})
separator.separate(signals.centre_panned_speech_mix(44100).mixture)  # load the model
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
mix = signals.centre_panned_speech_mix(44100).mixture.samples
repeats = int(np.ceil({minutes} * 60 * 44100 / mix.shape[1]))
song = Audio(np.tile(mix, (1, repeats))[:, : int({minutes} * 60 * 44100)], 44100)
song_mb = song.samples.nbytes / 2**20
start = time.perf_counter()
stems = separator.separate(song)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
json.dump(dict(seconds=seconds, song_mb=song_mb, before_mb=before, peak_mb=peak), sys.stdout)
"""
    completed = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise SystemExit(f"{family}, {minutes} min failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0, 10.0])
    parser.add_argument("--family", choices=sorted(MODELS), default="mdx")
    arguments = parser.parse_args()

    from urvc_separator_mdx.tiny_models import build_centre_mdx_model, build_tiny_roformer

    with tempfile.TemporaryDirectory(prefix="urvc-bench-") as scratch:
        home = Path(scratch)
        folder = home / "assets" / "audio-separator"
        build_centre_mdx_model(folder, MODELS["mdx"])
        build_tiny_roformer(folder, MODELS["mdxc"])
        print(f"family {arguments.family}, model {MODELS[arguments.family]}, stereo 44.1 kHz")
        print(
            f"{'minutes':>8} {'song MB':>8} {'seconds':>8} {'x real time':>11} "
            f"{'peak MB':>8} {'peak - loaded MB':>16} {'copies of song':>14}"
        )
        rows = []
        for minutes in arguments.minutes:
            started = time.perf_counter()
            result = run_one(home, arguments.family, minutes)
            rows.append((minutes, result))
            grown = result["peak_mb"] - result["before_mb"]
            print(
                f"{minutes:>8g} {result['song_mb']:>8.0f} {result['seconds']:>8.1f} "
                f"{result['seconds'] / (minutes * 60):>11.3f} {result['peak_mb']:>8.0f} "
                f"{grown:>16.0f} {grown / result['song_mb']:>14.1f}"
                f"   ({time.perf_counter() - started:.0f} s with start-up)"
            )
        if len(rows) > 1:
            (m0, r0), (m1, r1) = rows[0], rows[-1]
            slope = (r1["peak_mb"] - r0["peak_mb"]) / (m1 - m0)
            song_per_minute = r1["song_mb"] / m1
            print(
                f"peak memory grows {slope:.0f} MB per minute of song "
                f"({slope / song_per_minute:.1f} x the song's own {song_per_minute:.1f} MB/min)"
            )


if __name__ == "__main__":
    main()
