"""Fusing and comparing full-size voice models: time and peak memory.

    .venv/bin/python benchmarks/fusion.py [--version v2] [--sample-rate 40000]

Builds three full-size RVC voice models with random weights (fp16, as RVC exports
them; real sizes, so the arithmetic and the file sizes are the real ones) in a
temporary home, then times ``fuse_models`` (weighted-sum of two, add-difference of
three: each writes the result into the library) and ``compare_models``. The peak RSS
is the whole script's, building the models included.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", default="v2", choices=["v1", "v2"])
    parser.add_argument("--sample-rate", type=int, default=40000)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.environ["URVC_HOME"] = str(folder / "home")
        from urvc_core import compare_models, fuse_models
        from urvc_core.testing.voice_models import build_voice_model_file

        models = [
            build_voice_model_file(
                folder / f"{name}.pth",
                version=arguments.version,
                sample_rate=arguments.sample_rate,
                size="full",
                seed=seed,
                fp16=True,
            )
            for seed, name in enumerate("ABC", start=1)
        ]
        print(f"model file: {models[0].stat().st_size / 2**20:.1f} MiB")
        started = time.perf_counter()
        blend = fuse_models(models[:2], name="AB", weights=[0.7, 0.3])
        print(f"weighted-sum of two: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        fuse_models(models, name="ABC", method="add-difference", weights=[0.5])
        print(f"add-difference of three: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        comparison = compare_models(models[0], "AB")
        print(
            f"compare: {time.perf_counter() - started:.2f} s, overall "
            f"{comparison.overall:.4f} (0.7 A + 0.3 B against A)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"parameters: {blend.info.parameters}; peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
